"""How every DAG's run ends: its last task, ``report`` (trigger rule ALL_DONE, so it runs after a
failure too), hands its report to ``end_run``. One history row, the claim released, the run's
note (our listener copies it onto the run page), the log, and a red task when the run failed:
the same for all eleven DAGs, in each DAG's own words."""

from __future__ import annotations

import logging

from airflow.sdk import get_current_context
from airflow.sdk.exceptions import AirflowFailException

from dify_maintenance.airflow.tasks.common import connector_for, current_settings, error_line, publish_summary, run_errors
from dify_maintenance.core import runs, state
from dify_maintenance.core.policy import Policy
from dify_maintenance.core.settings import Settings

log = logging.getLogger(__name__)


def end_run(
    title: str,
    rep: dict,
    lines: list[str],
    *,
    began: bool,
    where: Policy | Settings | None = None,
    create_schema: bool = False,
    note: str | None = None,
    note_lines: list[str] | None = None,
    headline: str | None = None,
) -> dict:
    """Record and publish the run's end. ``rep["outcome"]`` is the DAG's verdict (success,
    deferred, failed); the errors the other tasks recorded are added, and an error turns a
    "success" into "failed" (a task that failed for good means the run did not do its job).
    ``began``: the run recorded itself and may hold the claim (``runs.begin``)."""
    dag_run = get_current_context()["dag_run"]
    rep.setdefault("run_key", runs.run_key(dag_run.dag_id, dag_run.run_id))
    rep.setdefault("dag_id", dag_run.dag_id)
    if "errors" not in rep:  # most reports were built with run_errors() already
        rep["errors"] = run_errors()
    rep["error"] = rep.get("error") or state.first_error(rep["errors"])
    if rep["error"] and rep["outcome"] == "success":
        rep["outcome"] = "failed"
    log.info("\n%s", "\n".join([f"{title}: {rep['outcome'].upper()}", *lines]))
    try:
        history_id = runs.finish(connector_for(where or current_settings()), rep, began=began, create_schema=create_schema)
        if history_id is None:
            log.warning("not recorded in dify_maintenance.history: this database has no maintenance schema yet")
    except Exception as exc:  # the database may be what failed; the log, the note and the alert still say it
        log.warning("could not record the run in dify_maintenance.history: %s", error_line(exc))
    publish_summary(note or runs.note(title, rep, lines if note_lines is None else note_lines, headline))
    if rep["outcome"] == "failed":
        released = " The claim was released." if began else ""
        raise AirflowFailException(f"{title}: FAILED ({rep['error'] or 'see the failed task'}).{released}")
    if rep["outcome"] == "deferred":
        log.warning("run DEFERRED: it stopped early (stop switch, time budget, health); see the report")
    return rep


def preflight_context(ti, what_was_spared: str, title: str) -> dict:
    """The run's context from its preflight. Without it the run never began: the run ends here as
    failed (in the history where this database already has our schema, in the note and the log,
    with the first error), instead of failing on a missing key."""
    ctx = ti.xcom_pull(task_ids="preflight")
    if ctx:
        return ctx
    errors = run_errors()
    rep = {"outcome": "failed", "errors": errors, "error": state.first_error(errors) or "preflight did not complete"}
    end_run(title, rep, [], began=False, headline=f"FAILED before anything started: {what_was_spared}")
    raise AssertionError("end_run raises for a failed run")  # pragma: no cover

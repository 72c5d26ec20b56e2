"""The DAG files parse, and carry the scheduling and safety settings operators rely on."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import Param

from dify_maintenance.airflow.params import params_for
from dify_maintenance.retention.forms import RETENTION_FORM

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bag():
    return DagBag(dag_folder=str(ROOT / "dags"))


def test_no_import_errors(bag):
    assert bag.import_errors == {}
    assert {"dify_retention", "dify_restore_archive", "dify_pre_upgrade_cleanup", "dify_backup", "dify_orphaned_files"} <= set(
        bag.dags
    )


def test_retention_schedule_and_safety(bag):
    dag = bag.dags["dify_retention"]
    assert dag.timetable.expression == "0 3 * * 0"
    assert dag.catchup is False and dag.max_active_runs == 1
    assert dag.dagrun_timeout is not None
    assert dag.deadline and len(dag.deadline) == 1
    assert {"dify", "maintenance"} <= set(dag.tags)
    assert dag.default_args["retries"] >= 2 and dag.default_args["retry_exponential_backoff"] == 2.0
    assert dag.doc_md
    assert "unpaus" in dag.doc_md.lower() and "first_run_dry_run" in dag.doc_md


@pytest.mark.parametrize(
    "dag_id",
    [
        "dify_retention",
        "dify_pre_upgrade_cleanup",
        "dify_backup",
        "dify_orphaned_files",
        "dify_storage_migration",
        "dify_restore_archive",
        "dify_restore_quarantine",
    ],
)
def test_one_failure_alert_per_run(bag, dag_id):
    """The notifier sits on the DAG (called once when the run fails), not on every task (a failed
    preflight also fails the report task: two webhook posts for one failure)."""
    dag = bag.dags[dag_id]
    assert dag.on_failure_callback is not None
    assert "on_failure_callback" not in dag.default_args
    assert all(not t.on_failure_callback for t in dag.tasks)


def test_retention_task_order(bag):
    dag = bag.dags["dify_retention"]
    down = {t.task_id: t.downstream_task_ids for t in dag.tasks}
    assert "plan" in down["preflight"]
    assert "archive_gate" in down["plan"]
    assert "independent_families" in down["archive_gate"]
    assert "vacuum" in down["purge"] and "vacuum" in down["purge_after"]
    assert "verify" in down["vacuum"]
    assert "collect_files" in down["verify"] and "report" in down["collect_files"]
    assert dag.get_task("report").trigger_rule == "all_done"


def test_param_defaults_are_valid_and_mean_use_the_policy():
    for name, param in params_for(RETENTION_FORM).items():
        assert isinstance(param, Param)
        assert param.resolve(None) is None, name


def test_restore_dag_is_manual_only(bag):
    dag = bag.dags["dify_restore_archive"]
    assert type(dag.timetable).__name__ == "NullTimetable"
    assert list(dag.allowed_run_types) == ["manual"]


def test_pre_upgrade_dag_is_manual_with_a_safe_form(bag):
    from dify_maintenance.database.forms import PRE_UPGRADE_FORM

    dag = bag.dags["dify_pre_upgrade_cleanup"]
    assert type(dag.timetable).__name__ == "NullTimetable"
    assert list(dag.allowed_run_types) == ["manual"]
    params = params_for(PRE_UPGRADE_FORM)
    assert params["dry_run"].value is True and params["keep_days"].value == 30
    assert params["confirm_database"].value is None and "null" in params["confirm_database"].schema["type"]
    sections = {p.schema.get("section") for p in params.values()}
    assert {"Retention", "Upgrade", "Backup", "Reclaim", "Safety"} <= sections
    assert params["reclaim_strategy"].schema["enum"] == ["auto", "vacuum", "vacuum_full", "repack", "rebuild"]


def test_pre_upgrade_purge_waits_for_the_verified_backup(bag):
    dag = bag.dags["dify_pre_upgrade_cleanup"]
    down = {t.task_id: t.downstream_task_ids for t in dag.tasks}
    order = ["preflight", "current_version", "upgrade_impact", "backup", "verify_backup"]
    for before, after in zip(order, order[1:], strict=False):
        assert after in down[before], (before, after)
    assert {"independent_families", "dependent_families"} <= down["verify_backup"]
    assert "verify_purge" in down["purge"] and "reclaim" in down["verify_purge"]
    assert "analyze" in down["reclaim"] and "report" in down["analyze"]
    assert dag.get_task("report").trigger_rule == "all_done"


def test_backup_dag_is_unscheduled_unless_configured(bag):
    dag = bag.dags["dify_backup"]
    assert type(dag.timetable).__name__ == "NullTimetable"
    down = {t.task_id: t.downstream_task_ids for t in dag.tasks}
    assert "dump" in down["preflight"] and "verify" in down["dump"] and "rotate" in down["verify"]


def test_storage_migration_dag_is_manual_and_copies_privkeys_by_default(bag):
    from dify_maintenance.files.forms import MIGRATION_FORM

    dag = bag.dags["dify_storage_migration"]
    assert list(dag.allowed_run_types) == ["manual"]
    params = params_for(MIGRATION_FORM)
    assert "privkeys/" in params["prefixes"].value and params["dry_run"].value is True
    down = {t.task_id: t.downstream_task_ids for t in dag.tasks}
    assert "inventory" in down["preflight"] and "check_database" in down["copy"] and "report" in down["update_storage_type"]


def test_orphaned_files_dag_is_a_weekly_dry_run_that_never_scans_private_keys(bag):
    from dify_maintenance.files.forms import ORPHANS_FORM

    dag = bag.dags["dify_orphaned_files"]
    assert dag.timetable.expression == "0 5 * * 0" and dag.max_active_runs == 1
    params = params_for(ORPHANS_FORM)
    assert params["dry_run"].value is True and params["grace_days"].value == 7 and params["archive"].value is True
    assert "privkeys/" not in params["prefixes"].schema["items"]["enum"]
    down = {t.task_id: t.downstream_task_ids for t in dag.tasks}
    order = ["preflight", "inventory", "sources", "scan", "candidates", "collect", "empty_quarantine", "report"]
    for before, after in zip(order, order[1:], strict=False):
        assert after in down[before], (before, after)
    assert dag.get_task("report").trigger_rule == "all_done"
    restore = bag.dags["dify_restore_quarantine"]
    assert list(restore.allowed_run_types) == ["manual"] and [t.task_id for t in restore.tasks] == ["restore", "report"]


def ui_form(dag) -> dict[str, tuple[object, dict]]:
    """Each field of the trigger form as Airflow's UI receives it: the DAG serialized and read
    back (as the api-server does), each value resolved against its JSON schema (an invalid
    default arrives as null), with its schema (GET /api/v2/dags/{id}/details "params")."""
    from airflow.serialization.serialized_objects import DagSerialization

    served = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    return {name: (param.resolve(), param.schema) for name, param in served.params.items()}


def ui_missing(form: dict[str, tuple[object, dict]]) -> list[str]:
    """The fields the 3.3 UI marks missing, which disables its Trigger button: a type without
    "null" whose value is null or an empty string (isParamRequired / FlexibleForm in the UI)."""
    missing = []
    for name, (value, schema) in form.items():
        kind = schema.get("type")
        required = bool(kind) and (not isinstance(kind, list) or "null" not in kind)
        if required and value in (None, ""):
            missing.append(name)
    return missing


REQUIRED_BY_DESIGN = {
    # the one field a person must fill in: which archive to restore, which quarantine to undo
    "dify_restore_archive": {"archive_prefix"},
    "dify_restore_quarantine": {"quarantine_id"},
}


@pytest.mark.parametrize(
    "dag_id",
    sorted(REQUIRED_BY_DESIGN)
    + ["dify_retention", "dify_pre_upgrade_cleanup", "dify_backup", "dify_orphaned_files", "dify_storage_migration"],
)
def test_every_trigger_form_can_be_submitted_with_its_defaults(bag, dag_id):
    """The pre-upgrade form once opened with a red Safety section and a disabled Trigger button:
    an empty text box for a type "string" field counts as missing in the UI. Only fields that a
    person must fill in by design may be missing."""
    form = ui_form(bag.dags[dag_id])
    assert set(ui_missing(form)) == REQUIRED_BY_DESIGN.get(dag_id, set())


def test_the_pre_upgrade_form_says_what_to_type_and_the_retention_form_what_empty_means(bag):
    form = ui_form(bag.dags["dify_pre_upgrade_cleanup"])
    confirm = bag.dags["dify_pre_upgrade_cleanup"].params.get_param("confirm_database").description
    assert form["confirm_database"][0] is None and "dify_db" in confirm and "Schema" in confirm
    retention = bag.dags["dify_retention"].params
    for name, days in (("workflow_logs_days", 30), ("messages_days", 90), ("end_users_days", 180)):
        assert f"{days} days by default" in retention.get_param(name).description


def declared_forms():
    from dify_maintenance.database.forms import BACKUP_FORM, PRE_UPGRADE_FORM
    from dify_maintenance.files.forms import MIGRATION_FORM, ORPHANS_FORM, RESTORE_QUARANTINE_FORM
    from dify_maintenance.logstore.forms import LOG_CLEANUP_FORM, LOG_INDEX_RETENTION_FORM, LOG_MIGRATION_FORM
    from dify_maintenance.retention.forms import RESTORE_ARCHIVE_FORM

    forms = (
        RETENTION_FORM,
        PRE_UPGRADE_FORM,
        BACKUP_FORM,
        MIGRATION_FORM,
        ORPHANS_FORM,
        RESTORE_QUARANTINE_FORM,
        RESTORE_ARCHIVE_FORM,
        LOG_MIGRATION_FORM,
        LOG_CLEANUP_FORM,
        LOG_INDEX_RETENTION_FORM,
    )
    return {form.dag_id: form for form in forms}


@pytest.mark.parametrize("dag_id", sorted(declared_forms()))
def test_each_dags_params_are_its_declared_form_and_the_engine_checks_the_same_bounds(bag, dag_id):
    """One declaration per form: the Params a DAG shows and the checks the engine runs come from
    the same fields, so a bound or a default cannot differ between the two."""
    from airflow.sdk.exceptions import ParamValidationError

    form = declared_forms()[dag_id]
    params = bag.dags[dag_id].params
    assert list(params.keys()) == form.names()
    for field in form.fields:
        param = params.get_param(field.name)
        assert {k: v for k, v in param.schema.items() if k in field.schema()} == field.schema(), field.name
        assert param.value == field.default or (param.value is None and field.default is None)
        for outside in [b for b in ((field.minimum, -1), (field.maximum, 1)) if b[0] is not None]:
            bad = outside[0] + outside[1]
            with pytest.raises(ParamValidationError):
                param.resolve(bad)
            assert any(e.startswith(f"{field.name}:") for e in form.values({field.name: bad})[1]), (field.name, bad)


def test_log_dags_migrate_one_month_at_a_time_and_retention_is_a_dry_run(bag):
    migration = bag.dags["dify_log_migration"]
    # the form's concurrency is the run's number of requests in flight: months never overlap
    assert migration.get_task("migrate_month").max_active_tis_per_dagrun == 1
    assert "report" in migration.task_ids and "report" in bag.dags["dify_log_index_retention"].task_ids
    retention = bag.dags["dify_log_index_retention"]
    assert retention.params["dry_run"] is True and retention.params["confirm_cluster"] is None
    assert retention.schedule is not None  # weekly, and a dry run until the Variable says otherwise
    for dag_id in ("dify_log_migration", "dify_log_index_retention"):
        assert bag.dags[dag_id].params.get_param("index_prefix").schema["maxLength"] == 100


def test_every_dag_ends_in_one_report_task_that_runs_after_a_failure(bag):
    """The run's end (history row, claim released, note, alert's error) lives in a task named
    ``report`` downstream of every other task, with trigger rule ALL_DONE: the note listener
    and the failure alert read its summary by that name."""
    assert len(bag.dags) == 11
    for dag_id, dag in bag.dags.items():
        report = dag.get_task("report")
        assert report.trigger_rule == "all_done", dag_id
        assert report.get_flat_relative_ids(upstream=True) == set(dag.task_ids) - {"report"}, dag_id

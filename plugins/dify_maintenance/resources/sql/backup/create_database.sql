-- A scratch database for a restore check; dropped again when the check ends.
CREATE DATABASE {{ database|ident }}

"""Tests of the posting-scheduler (scheduler/)."""

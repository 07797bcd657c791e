"""The operator's console: typer commands, rendering (text and JSON), exit codes, the demo folder.

Commands are thin: parse, call one library function of `orchestrator.run` / `orchestrator.views`,
render what it returned.
"""

"""`python -m orchestrator`: the same console as `parallel-orchestrator`."""

from orchestrator.cli.app import main

main()

"""What the operator reads: `--status` (one status document), the progress line, batch reports,
and the log files (`logs -f`). Views are pure functions of a queue snapshot plus what the shell
measured; they compute no rule of their own (the queue's outlook answers "what is due")."""

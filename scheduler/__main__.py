"""python -m scheduler: the posting-scheduler CLI."""

from scheduler.cli import main

if __name__ == "__main__":
    main()

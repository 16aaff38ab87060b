"""gunicorn settings for tests/inference/test_gunicorn.py (the command line holds the rest)."""

control_socket_disable = True  # gunicorn 27's control socket is one per user, not per server


def child_exit(server, worker):
    """Log each worker the master reaps. It logs "exited with code N" before this for a status
    N other than 0 and "was sent SIG..." for a worker a signal ended; a worker reaped without
    either line exited with status 0."""
    server.log.info("Reaped worker (pid:%s)", worker.pid)

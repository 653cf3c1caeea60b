"""Gunicorn settings of the production web service: `gunicorn -c gunicorn.conf.py baatracker.wsgi`.

TLS ends at a reverse proxy in front of it, which must set X-Forwarded-Proto (settings.py trusts that
header in production to tell HTTPS requests apart).
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Gunicorn itself also reads WEB_CONCURRENCY; the default suits a small machine with 2 cores.
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
# Requests are short: PDFs and compliance runs are made by the Celery worker, not in the request.
timeout = 60
graceful_timeout = 30
# Recycle workers now and then, so a slow leak never grows.
max_requests = 1000
max_requests_jitter = 100
# The heartbeat files of the workers go to memory, not to a container's overlay file system.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
accesslog = "-"
# Behind the reverse proxy %(h)s is the proxy's address: log X-Forwarded-For too, which names the client.
access_log_format = '%(h)s %({x-forwarded-for}i)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()

"""``korsent serve``: an HTTP service that batches concurrent requests into one pipeline.

- :mod:`.batcher`: one queue for every connection, batches by a token budget and a maximum wait,
  run on one worker thread off the event loop.
- :mod:`.service`: the pipeline, the limits and the answers, whatever serves them.
- :mod:`.metrics`: the Prometheus metrics.
- :mod:`.app`: the ASGI application (FastAPI) over a service; :mod:`.ray_serve`: the Ray Serve
  deployment over the same service.

Needs ``pip install "spacy-korsent[serve]"``.
"""

"""Sessions, trials and (later) searches."""


class SessionsFailed(RuntimeError):
    """Some sessions crashed; the trial's metrics were still written from the others."""

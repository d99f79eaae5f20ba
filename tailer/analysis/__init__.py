"""Analysis: what is built on the stored entries — error patterns, the error-rate check,
alerts, and the scheduler that runs these jobs inside ``tailer run`` (or from a user's own
scheduler). Analysis reads and writes through the store's protocol; nothing below imports it.
"""

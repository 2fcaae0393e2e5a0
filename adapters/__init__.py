"""OpenTimelineIO adapters written by polysync."""

"""Analysis over what the store keeps: message templates, patterns, the rate check, alerts."""

import json


def read_settings(text):
    try:
        return json.loads(text)
    except ValueError as exc:
        raise RuntimeError("settings for worker 3 are not valid JSON") from exc


read_settings('{"workers": 4,')

"""Where the demo listens: Gradio's and the platforms' environment variables, in their order."""

import pytest

from cnngru.app.address import server_address


@pytest.mark.parametrize("env, expected", [
    ({}, ("127.0.0.1", 7860)),
    ({"SPACE_ID": "someone/cnngru"}, ("0.0.0.0", 7860)),
    ({"PORT": "8080"}, ("127.0.0.1", 8080)),
    ({"GRADIO_SERVER_PORT": "9000", "PORT": "8080"}, ("127.0.0.1", 9000)),
    ({"GRADIO_SERVER_NAME": "0.0.0.0"}, ("0.0.0.0", 7860)),
    ({"GRADIO_SERVER_NAME": "10.1.2.3", "SPACE_ID": "someone/cnngru", "PORT": "7861"},
     ("10.1.2.3", 7861)),
    ({"GRADIO_SERVER_NAME": "", "GRADIO_SERVER_PORT": "", "PORT": "7862"}, ("127.0.0.1", 7862)),
])
def test_port_and_host_follow_the_conventions_in_order(env, expected):
    assert server_address(env) == expected


@pytest.mark.parametrize("env, message", [
    ({"GRADIO_SERVER_PORT": "http"}, "GRADIO_SERVER_PORT='http' is not a port number"),
    ({"PORT": "70000"}, "PORT='70000' is not a port number"),
])
def test_a_bad_port_is_named(env, message):
    with pytest.raises(ValueError, match=message):
        server_address(env)


def test_launch_listens_where_the_environment_says(monkeypatch):
    """``launch()`` (app.py, ``cnngru serve`` without options) asks ``server_address``."""
    import cnngru.app as app

    seen = {}

    class FakeDemo:
        def launch(self, **options):
            seen.update(options)

    monkeypatch.setattr(app, "build_demo", lambda models=None: FakeDemo())
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7999")
    app.launch()
    assert (seen["server_name"], seen["server_port"]) == ("0.0.0.0", 7999)
    app.launch("127.0.0.1", 7000)  # explicit values win
    assert (seen["server_name"], seen["server_port"]) == ("127.0.0.1", 7000)

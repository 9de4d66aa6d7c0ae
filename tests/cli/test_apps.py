"""Any app, one command: apps named in pyproject.toml, services found from the engine's description of them."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from resilient_agents.cli import main
from resilient_agents.cli._apps import load_project
from resilient_agents.cli._targets import ServiceInfo, call_lines, choose_target, parse_services
from resilient_agents.errors import ConfigurationError, EngineError

PYPROJECT = """
[project]
name = "mine"

[tool.resilient-agents]
default-app = "shop"

[tool.resilient-agents.apps.shop]
app = "shop.service"
examples = ["do you have red shoes?"]

[tool.resilient-agents.apps.helpdesk]
app = "helpdesk.app:build()"
chat = "Desk/ask"
"""


def _handler(name: str, ty: str | None, input_description: str, public: bool = True) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "input_description": input_description, "public": public}
    if ty:
        entry["ty"] = ty
    return entry


# The shape of `GET /services` (restate-server 1.7), trimmed: a bank-like app.
SERVICES = {
    "services": [
        {
            "name": "BankSession",
            "ty": "VirtualObject",
            "public": True,
            "handlers": [
                _handler("message", "Exclusive", "*/*"),
                _handler("history", "Shared", "none"),
                _handler("secret", "Exclusive", "none", public=False),
            ],
        },
        {
            "name": "Account",
            "ty": "VirtualObject",
            "public": True,
            "handlers": [_handler("balance", "Exclusive", "none"), _handler("deposit", "Exclusive", "JSON 'Movement'")],
        },
        {"name": "LoanApproval", "ty": "Workflow", "public": True, "handlers": [_handler("run", "Workflow", "JSON")]},
        {"name": "Internal", "ty": "Service", "public": False, "handlers": [_handler("run", None, "JSON string")]},
    ]
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "src").mkdir()
    monkeypatch.chdir(tmp_path / "src")  # The nearest pyproject.toml is found from below, too.
    monkeypatch.delenv("RESTATE_ADMIN_URL", raising=False)
    monkeypatch.delenv("RESTATE_INGRESS_URL", raising=False)
    return tmp_path


def test_apps_come_from_the_nearest_pyproject(project: Path) -> None:
    found = load_project()
    assert found.root == project and found.data_dir == project / ".restate"
    assert found.resolve(None).spec == "shop.service:app"  # default-app; a module means its attribute `app`.
    assert found.resolve("shop").examples == ("do you have red shoes?",)
    assert found.resolve("helpdesk").chat == "Desk/ask"
    assert found.resolve("helpdesk").spec == "helpdesk.app:build()"
    assert found.resolve("pkg.mod:thing").spec == "pkg.mod:thing"  # Any app, not only configured ones.
    assert found.resolve("pkg.mod").spec == "pkg.mod:app"
    with pytest.raises(ConfigurationError, match=r"unknown app 'nope'.*helpdesk, shop"):
        found.resolve("nope")


def test_a_project_without_configuration_takes_specs_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    found = load_project()
    assert found.apps == {} and found.root == tmp_path.resolve()
    assert found.resolve("my_app:app").spec == "my_app:app"
    with pytest.raises(ConfigurationError, match="which app"):
        found.resolve(None)


@pytest.mark.parametrize(
    ("table", "complaint"),
    [
        ('[tool.resilient-agents.apps.x]\nexamples = ["hi"]\n', "set app = 'module:attribute'"),
        ('[tool.resilient-agents.apps.x]\napp = "m:a"\nexample = "hi"\n', "unknown key(s) example"),
        ('[tool.resilient-agents]\ndefault-app = "y"\n[tool.resilient-agents.apps.x]\napp = "m:a"\n', "names no app"),
        ('[tool.resilient-agents.apps.x]\napp = "m:a"\nexamples = "hi"\n', "examples must be a list"),
    ],
)
def test_a_malformed_table_says_what_to_fix(tmp_path: Path, table: str, complaint: str) -> None:
    (tmp_path / "pyproject.toml").write_text(table)
    with pytest.raises(ConfigurationError, match=r"pyproject\.toml") as raised:
        load_project(tmp_path)
    assert complaint in str(raised.value)


def test_services_are_read_from_the_admin_api_answer() -> None:
    services = parse_services(SERVICES)
    assert [(s.name, s.kind) for s in services] == [
        ("Account", "virtual_object"),
        ("BankSession", "virtual_object"),
        ("LoanApproval", "workflow"),
    ]  # Private services and handlers are left out: the ingress refuses them.
    session = next(s for s in services if s.name == "BankSession")
    assert [h.name for h in session.handlers] == ["message", "history"]
    assert ServiceInfo.from_json(session.to_json()) == session
    assert [s.name for s in parse_services(SERVICES, only={"Account"})] == ["Account"]


def test_chat_picks_the_one_object_with_a_message_handler_or_the_one_service_with_run() -> None:
    services = parse_services(SERVICES)
    target = choose_target(services, None)
    assert (target.service, target.handler, target.keyed) == ("BankSession", "message", True)
    assert target.path("alice") == "BankSession/alice/message"
    weather = parse_services({"services": [{"name": "Agent", "ty": "Service", "handlers": [{"name": "run"}]}]})
    assert choose_target(weather, None).path(None) == "Agent/run"


def test_chat_targets_named_or_ambiguous() -> None:
    services = parse_services(SERVICES)
    assert choose_target(services, "LoanApproval").handler == "run"
    balance = choose_target(services, "Account/balance")
    assert (balance.keyed, balance.takes_input) == (True, False)
    with pytest.raises(ConfigurationError, match=r"which handler of 'Account'.*Account/balance, Account/deposit"):
        choose_target(services, "Account")
    with pytest.raises(ConfigurationError, match="has no handler 'nope'; its handlers: balance, deposit"):
        choose_target(services, "Account/nope")
    with pytest.raises(ConfigurationError, match="no service 'Shop' is registered; pass --to with one of"):
        choose_target(services, "Shop/run")
    two = services + parse_services(
        {"services": [{"name": "Other", "ty": "VirtualObject", "handlers": [{"name": "message"}]}]}
    )
    with pytest.raises(ConfigurationError, match=r"which handler\? pass --to with one of: .*Other/message"):
        choose_target(two, None)
    # Without the services (no admin API) a full name is enough; --session then says whether it is keyed.
    assert choose_target(None, "Desk/ask").keyed is None
    with pytest.raises(EngineError, match="--to Desk/HANDLER"):
        choose_target(None, "Desk")


def test_up_tells_how_to_call_each_handler() -> None:
    lines = call_lines(parse_services(SERVICES), "http://127.0.0.1:8080")
    text = "\n".join(lines)
    assert "BankSession (virtual object; KEY = the object's key, e.g. a session id)" in lines
    assert "curl http://127.0.0.1:8080/BankSession/KEY/message --json '\"hello\"'" in text
    assert "resilient-agents chat --to BankSession/message --session KEY 'hello'" in text
    assert "curl -X POST http://127.0.0.1:8080/BankSession/KEY/history" in text  # No input: no body.
    assert "curl http://127.0.0.1:8080/Account/KEY/deposit --json '<Movement as JSON>'" in text
    assert "chat --to Account/deposit" not in text  # chat sends text; that handler takes an object.


class _Ingress(BaseHTTPRequestHandler):
    calls: ClassVar[list[tuple[str, bytes]]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.calls.append((self.path, body))
        answer = json.dumps(f"echo from {self.path}").encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


@pytest.fixture
def ingress() -> Iterator[str]:
    _Ingress.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ingress)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _running_up(project: Path, ingress: str, app: str = "shop") -> None:
    """The state file of a running `up` (this test process stands in for it) that registered SERVICES."""
    data = project / ".restate"
    data.mkdir()
    state = {
        "app": app,
        "pid": os.getpid(),
        "ingress_url": ingress,
        "admin_url": "http://127.0.0.1:1",  # Unreachable: the services must come from the state file.
        "services": [s.to_json() for s in parse_services(SERVICES)],
    }
    (data / "up.json").write_text(json.dumps(state))


def test_chat_finds_the_handler_from_the_running_up(
    project: Path, ingress: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _running_up(project, ingress)
    assert main(["chat", "--session", "alice", "hi"]) == 0
    assert capsys.readouterr().out.strip() == "echo from /BankSession/alice/message"
    assert _Ingress.calls == [("/BankSession/alice/message", b'"hi"')]

    assert main(["chat", "--to", "Account/balance", "--session", "alice"]) == 0  # No input: no body sent.
    assert _Ingress.calls[-1] == ("/Account/alice/balance", b"")

    assert main(["chat", "hi"]) == 2
    assert "BankSession/message belongs to a Virtual Object (or Workflow): add --session KEY" in capsys.readouterr().err
    assert main(["chat", "--to", "Account/balance"]) == 2
    assert main(["chat", "--to", "BankSession", "--session", "a"]) == 2  # A message is needed.
    assert "takes an input: give the message" in capsys.readouterr().err


def test_sessions_show_finds_the_session_object(
    project: Path, ingress: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _running_up(project, ingress)
    assert main(["sessions", "show", "shop", "alice", "--json"]) == 0
    assert _Ingress.calls == [("/BankSession/alice/history", b"")]
    assert "echo from /BankSession/alice/history" in capsys.readouterr().out


def test_sessions_show_refuses_a_stateless_app(project: Path, ingress: str, capsys: pytest.CaptureFixture[str]) -> None:
    (project / ".restate").mkdir()
    weather = {"name": "Agent", "kind": "service", "handlers": [{"name": "run", "input": "JSON string"}]}
    state = {"app": "shop", "pid": os.getpid(), "ingress_url": ingress, "services": [weather]}
    (project / ".restate" / "up.json").write_text(json.dumps(state))
    assert main(["sessions", "show", "shop", "k1"]) == 2
    assert "has no sessions" in capsys.readouterr().err


def test_chat_without_an_engine_says_how_to_start_the_app(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "--admin", "http://127.0.0.1:1", "hi"]) == 1
    assert "start the stack with `resilient-agents up shop`" in capsys.readouterr().err


def test_up_takes_the_app_as_an_argument_or_option(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["up", "shop", "--app", "helpdesk"]) == 2
    assert "two apps given" in capsys.readouterr().err
    assert main(["up", "nope"]) == 2
    assert "unknown app 'nope'" in capsys.readouterr().err

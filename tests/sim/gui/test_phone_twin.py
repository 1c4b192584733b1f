"""The phone twin and the Android backend over real adb: the protocol pieces on their own, then
end-to-end scripts whose results are read back from the twin's app state (never from the agent)."""

from __future__ import annotations

import secrets as token_source
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from embodied.gui import GuiSession
from embodied.types import UIElement
from perception.screen_predicates import switch_of
from sim.gui.android import AndroidEnv, AndroidOptions, AppNotFound, label_package, parse_elements, parse_foreground
from sim.gui.phone_twin import PhoneTwin, TwinOptions
from sim.gui.phone_twin.errors import ProtocolError
from sim.gui.phone_twin.protocol import A_OPEN, HEADER, Message, unpack_header
from sim.gui.phone_twin.shell import DeviceShell, FileStore
from sim.gui.phone_twin.transport import AdbDeviceServer, FileStat, ShellResult

ADB = shutil.which("adb")
needs_adb = pytest.mark.skipif(ADB is None, reason="Debian's adb is not installed (make setup installs it)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------------- pieces without a browser


def test_message_framing_round_trip_and_bad_magic() -> None:
    raw = Message(A_OPEN, 7, 0, b"shell:ls\0").pack()
    assert unpack_header(raw[:HEADER.size]) == (A_OPEN, 7, 0, 9)
    broken = bytearray(raw[:HEADER.size])
    broken[20] ^= 0xFF
    with pytest.raises(ProtocolError, match="magic"):
        unpack_header(bytes(broken))


def test_device_shell_operators_redirects_and_status() -> None:
    files = FileStore()
    calls: list[list[str]] = []

    def dump(args: list[str], stdin: bytes) -> ShellResult:
        files.write(args[1], b"<hierarchy/>")
        calls.append(args)
        return ShellResult(b"UI hierchary dumped to: x\n")

    sh = DeviceShell({"uiautomator": dump}, files)
    assert sh.run("uiautomator dump /sdcard/d.xml >/dev/null && cat /sdcard/d.xml").stdout == b"<hierarchy/>"
    assert sh.run("cat /nope && echo never").status == 1
    assert sh.run("cat /nope || echo fallback").stdout == b"fallback\n"
    missing = sh.run("frobnicate; echo MAGIC$?")
    assert missing.stdout == b"MAGIC127\n" and b"frobnicate: inaccessible or not found" in missing.stderr
    assert sh.run("echo a; echo b | grep b").stdout == b"a\nb\n"
    assert sh.run("echo 'it''s; not split'").stdout == b"its; not split\n"
    assert sh.run("echo x > /sdcard/f; cat /sdcard/f").stdout == b"x\n"
    assert sh.run("echo 'unclosed").status == 2


def test_label_resolution_and_foreground_parsing() -> None:
    packages = ["com.android.settings", "com.embodied.messages", "com.embodied.messages.backup", "org.example.mail"]
    assert label_package("Settings", packages) == "com.android.settings"
    assert label_package("messages", packages) == "com.embodied.messages"  # the name that says nothing else
    assert label_package("Bank", packages) is None  # left to the launcher's icons
    dump = "  mCurrentFocus=Window{7f1c2e0 u0 com.android.settings/com.android.settings.SubSettings}\n"
    assert parse_foreground(dump) == ("com.android.settings", ".SubSettings")
    assert parse_foreground("mResumedActivity: ActivityRecord{3a9 u0 com.x.app/.Main t4}") == ("com.x.app", ".Main")
    assert parse_foreground("nothing here") is None


def test_switch_of_takes_the_widget_in_the_title_row() -> None:
    title = UIElement("e1", "text", "Airplane mode", (32, 300, 500, 340))
    summary = UIElement("e2", "text", "Off", (32, 340, 500, 370))
    switch = UIElement("e3", "switch", "Airplane mode", (560, 305, 680, 365), checked=False)
    other = UIElement("e4", "switch", "Hotspot", (560, 405, 680, 465), checked=True)
    els = [title, summary, switch, other]
    assert switch_of(title, els) is switch
    assert switch_of(switch, els) is switch
    assert switch_of(UIElement("e5", "text", "Battery", (32, 600, 500, 640)), els) is None


class _EchoDevice:
    """Answers every shell command with its own text, for the transport alone."""

    properties = {"ro.product.name": "echo", "ro.product.model": "Echo", "ro.product.device": "echo"}

    def __init__(self) -> None:
        self.files = FileStore()
        self.files.write("/sdcard/note.txt", b"hello from the device")

    def run_shell(self, command: str) -> ShellResult:
        status = 3 if command.startswith("fail") else 0
        return ShellResult(f"ran: {command}\n".encode(), b"to stderr\n" if status else b"", status)

    def stat(self, path: str) -> FileStat | None:
        return self.files.stat(path)

    def list_dir(self, path: str) -> list[tuple[str, FileStat]]:
        return self.files.list_dir(path)

    def read_file(self, path: str) -> bytes:
        return self.files.read(path)

    def write_file(self, path: str, data: bytes, mode: int) -> None:
        self.files.write(path, data)


@pytest.fixture(scope="module")
def adb_server() -> Iterator[int]:
    """A private adb server for these tests, stopped afterwards."""
    if ADB is None:
        pytest.skip("Debian's adb is not installed (make setup installs it)")
    port = free_port()
    subprocess.run([ADB, "-P", str(port), "start-server"], check=True, capture_output=True, timeout=30)
    try:
        yield port
    finally:
        subprocess.run([ADB, "-P", str(port), "kill-server"], capture_output=True, timeout=30)


def adb(port: int, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([ADB or "adb", "-P", str(port), *args], capture_output=True, timeout=30)


@needs_adb
def test_real_adb_client_talks_to_the_transport(adb_server: int, tmp_path: Path) -> None:
    server = AdbDeviceServer(_EchoDevice())
    server.start()
    serial = f"127.0.0.1:{server.address[1]}"
    try:
        assert b"connected to" in adb(adb_server, "connect", serial).stdout
        assert b"model:Echo" in adb(adb_server, "devices", "-l").stdout
        ok = adb(adb_server, "-s", serial, "shell", "echo hi")
        assert ok.stdout == b"ran: echo hi\n" and ok.returncode == 0
        failed = adb(adb_server, "-s", serial, "shell", "fail now")  # shell v2 carries the exit status
        assert failed.returncode == 3 and failed.stderr == b"to stderr\n"
        assert adb(adb_server, "-s", serial, "exec-out", "x").stdout == b"ran: x\n"
        pulled = tmp_path / "note.txt"
        assert adb(adb_server, "-s", serial, "pull", "/sdcard/note.txt", str(pulled)).returncode == 0
        assert pulled.read_bytes() == b"hello from the device"
    finally:
        adb(adb_server, "disconnect", serial)
        server.close()


# ---------------------------------------------------------------------- the twin end to end


@pytest.fixture(scope="module")
def twin() -> Iterator[PhoneTwin]:
    if ADB is None or shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        pytest.skip("the phone twin needs adb, chromium and chromedriver (make setup installs them)")
    with PhoneTwin(TwinOptions(seed=4, bank_password=token_source.token_urlsafe(12))) as phone:
        yield phone


@pytest.fixture
def fresh(twin: PhoneTwin) -> PhoneTwin:
    twin.reset(4)
    return twin


def session(twin: PhoneTwin, adb_port: int, **kw: Any) -> GuiSession:
    import embodied.gui

    return embodied.gui.connect("android", connect=twin.serial, adb_port=adb_port, settle_s=0, semantic=False, **kw)


@pytest.mark.slow
def test_adb_shell_drives_the_twin(fresh: PhoneTwin, adb_server: int) -> None:
    assert b"connected" in adb(adb_server, "connect", fresh.serial).stdout
    try:
        s = ["-s", fresh.serial]
        assert adb(adb_server, *s, "shell", "wm size").stdout == b"Physical size: 540x1200\n"
        assert b"package:com.android.settings" in adb(adb_server, *s, "shell", "pm list packages").stdout
        assert adb(adb_server, *s, "shell", "monkey -p com.nope 1").returncode != 0
        adb(adb_server, *s, "shell", "am start -W -n com.android.settings/.NetworkActivity")
        assert fresh.foreground() == ("com.android.settings", "NetworkActivity")
        png = adb(adb_server, *s, "exec-out", "screencap -p").stdout
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        xml = adb(adb_server, *s, "shell", "uiautomator dump /sdcard/w.xml >/dev/null && cat /sdcard/w.xml").stdout
        switches = {e.text: e.checked for e in parse_elements(xml.decode(), (540, 1200)) if e.role == "switch"}
        truth = fresh.state("com.android.settings")["switches"]
        assert switches["Airplane mode"] == truth["airplane"] and switches["Mobile data"] == truth["mobile_data"]
        adb(adb_server, *s, "shell", "input keyevent KEYCODE_BACK")
        assert fresh.foreground() == ("com.android.settings", "Settings")
    finally:
        adb(adb_server, "disconnect", fresh.serial)


@pytest.mark.slow
def test_open_settings_by_name_and_turn_switches_off(fresh: PhoneTwin, adb_server: int) -> None:
    before = fresh.state("com.android.settings")["switches"]
    assert before["wifi"] and before["battery_saver"]  # seed 4: both on, so "off" must change them
    with session(fresh, adb_server) as phone:
        phone.launch("Settings")  # a label: resolved through the package list
        assert fresh.foreground() == ("com.android.settings", "Settings")
        result = phone.do("open Battery, then turn off Battery saver")
        assert result.claimed_success and result.success is None, result.failure
        assert fresh.state("com.android.settings")["switches"]["battery_saver"] is False
        # Wi-Fi's title opens a page; only the switch beside it toggles.
        phone.back()
        result = phone.do('open "Network & internet", then turn off Wi-Fi')
        assert result.claimed_success and result.success is None, result.failure
        after = fresh.state("com.android.settings")["switches"]
        assert after["wifi"] is False and fresh.foreground() == ("com.android.settings", "NetworkActivity")
        assert {k: v for k, v in after.items() if k not in ("wifi", "battery_saver")} == \
            {k: v for k, v in before.items() if k not in ("wifi", "battery_saver")}


@pytest.mark.slow
def test_log_in_with_a_secret_that_reaches_no_file(fresh: PhoneTwin, adb_server: int, tmp_path: Path) -> None:
    password = fresh.bank_password
    with session(fresh, adb_server, secrets={"password": password}, run_dir=tmp_path) as phone:
        result = phone.do("open Bank, then log in as ada with the configured password")
    assert fresh.state("com.embodied.bank")["logged_in"] is True
    assert result.claimed_success and result.success is None, result.failure
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "trace.jsonl" for p in files)
    leaked = [p for p in files if password.encode() in p.read_bytes()]
    assert not leaked, f"the password was written to {leaked}"


@pytest.mark.slow
def test_sending_a_message_needs_confirmation(fresh: PhoneTwin, adb_server: int) -> None:
    asked: list[str] = []
    instruction = ("open Messages, then tap Start chat, then type Grace Hopper into To, then type See you at 6 "
                   "into Message, then tap Send")
    with session(fresh, adb_server, confirm=lambda a: asked.append(a.describe()) or False) as phone:
        denied = phone.do(instruction)
    assert not denied.claimed_success and asked == ["tap 'Send'"]
    assert fresh.state("com.embodied.messages")["sent"] == []  # denied: nothing was sent
    fresh.reset(4)
    with session(fresh, adb_server, confirm=lambda a: True) as phone:
        allowed = phone.do(instruction)
    assert allowed.claimed_success and allowed.success is None, allowed.failure
    assert fresh.state("com.embodied.messages")["sent"] == [{"to": "Grace Hopper", "text": "See you at 6"}]


@pytest.mark.slow
def test_scroll_a_long_list_then_back_and_home(fresh: PhoneTwin, adb_server: int) -> None:
    contacts = [c["name"] for c in fresh.state("com.embodied.contacts")["contacts"]]
    target = contacts[-2]
    with session(fresh, adb_server) as phone:
        result = phone.do(f"open Contacts, then scroll down to {target}")
        assert result.claimed_success and result.success is None, result.failure
        assert target in fresh.screen_texts() and contacts[0] not in fresh.screen_texts()
        phone.tap(target)
        assert fresh.foreground() == ("com.embodied.contacts", "ContactDetailActivity")
        assert phone.do("go back").claimed_success
        assert fresh.foreground() == ("com.embodied.contacts", "ContactsActivity")
        assert phone.do("go home").claimed_success
        assert fresh.foreground() == ("com.android.launcher3", "Launcher")
        phone.key("app_switch")
        assert fresh.foreground() == ("com.android.launcher3", "RecentsActivity")
        assert "Contacts" in fresh.screen_texts()


@pytest.mark.slow
def test_non_ascii_text_goes_through_the_adb_keyboard(fresh: PhoneTwin, adb_server: int) -> None:
    with session(fresh, adb_server, confirm=lambda a: True) as phone:
        phone.launch("com.embodied.messages/.NewChatActivity")
        phone.type_text("Zoë", into="To")
        phone.type_text("Grüße aus Köln", into="Message")
        phone.tap("Send")
    assert fresh.state("com.embodied.messages")["sent"] == [{"to": "Zoë", "text": "Grüße aus Köln"}]


@needs_adb
def test_adb_server_started_by_the_env_is_stopped_on_close() -> None:
    port = free_port()
    env = AndroidEnv(AndroidOptions(adb_port=port))
    with pytest.raises(Exception, match="0 adb devices attached"):
        env.start()
    assert not listening(port)  # no device: the server it started is gone again


@needs_adb
def test_adb_server_already_running_is_left_alone(adb_server: int) -> None:
    env = AndroidEnv(AndroidOptions(adb_port=adb_server))
    with pytest.raises(Exception, match="adb devices attached"):
        env.start()
    assert not env.server_started and listening(adb_server)


@pytest.mark.slow
def test_open_an_app_from_inside_another(fresh: PhoneTwin, adb_server: int) -> None:
    with session(fresh, adb_server) as phone:
        result = phone.do("open Contacts, then open Bank")  # no "Bank" on the Contacts screen: the app
    assert result.claimed_success and result.success is None, result.failure
    assert fresh.foreground() == ("com.embodied.bank", "LoginActivity")
    assert fresh.recents == ["com.embodied.contacts", "com.embodied.bank"]


@pytest.mark.slow
def test_opening_an_app_that_does_not_exist_stops_at_once(fresh: PhoneTwin, adb_server: int) -> None:
    before = fresh.state("com.android.settings")["switches"]
    with session(fresh, adb_server) as phone:
        with pytest.raises(AppNotFound, match=r"no app named 'Calculator' on the device; installed: .*Settings"):
            phone.launch("Calculator")
        with pytest.raises(AppNotFound, match=r"no app named 'com\.example\.calculator'"):
            phone.launch("com.example.calculator")
        result = phone.do("open Settings, then open Calculator, then turn off Wi-Fi")  # seed 4: Wi-Fi on
    assert not result.claimed_success
    # one attempt, no repair, one replan that stops: retrying cannot install an app
    opened, missing = result.outcomes
    assert opened["ok"] and (missing["subgoal"], missing["attempts"], missing["category"]) == \
        ('open "Calculator"', 1, "missing")
    assert result.repairs == 0 and result.replans == 1 and result.policies_written == 2
    assert "no app named 'Calculator' on the device; installed: " in result.failure
    assert all(name in result.failure for name in ("Bank", "Contacts", "Messages", "Settings"))
    assert fresh.state("com.android.settings")["switches"] == before  # stopped before "turn on Wi-Fi"


@pytest.mark.slow
def test_drag_reorders_a_list_and_a_quick_swipe_does_not(fresh: PhoneTwin, adb_server: int) -> None:
    first, second, third, fourth = fresh.state("com.android.settings")["languages"]
    with session(fresh, adb_server) as phone:
        result = phone.do("open Settings, then open Languages")
        assert result.claimed_success, result.failure
        assert fresh.foreground() == ("com.android.settings", "LanguagesActivity")
        phone.scroll("down")  # a swipe over the rows moves at once: no row is held, nothing is dragged
        assert fresh.state("com.android.settings")["languages"] == [first, second, third, fourth]
        phone.drag(third, first)  # held past the long-press time, moved onto the first row, dropped
        assert fresh.state("com.android.settings")["languages"] == [third, first, second, fourth]
        phone.drag(third, fourth)
        assert fresh.state("com.android.settings")["languages"] == [first, second, fourth, third]
        shown = [e.text for e in phone.screen().elements if e.text in (first, second, third, fourth)]
    assert shown == [first, second, fourth, third]  # the screen agrees with the app's data


@pytest.mark.slow
def test_open_a_row_further_down_the_list(fresh: PhoneTwin, adb_server: int) -> None:
    contacts = [c["name"] for c in fresh.state("com.embodied.contacts")["contacts"]]
    with session(fresh, adb_server) as phone:
        result = phone.do(f"open Contacts, then open {contacts[-3]}")  # no app of that name: the row
    assert result.claimed_success and result.success is None, result.failure
    assert fresh.foreground() == ("com.embodied.contacts", "ContactDetailActivity")
    assert contacts[-3] in fresh.screen_texts()

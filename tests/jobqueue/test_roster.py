"""The accounts list as operators edit it in Excel: defaults, per-account rules, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobqueue.posting import AccountRules, PostingWindow
from jobqueue.roster import AccountDefaults, RosterError, format_roster, load_roster, parse_roster

DEFAULTS = AccountDefaults(
    app="instagram", executor="appium", rules=AccountRules(daily_limit=2, timezone="UTC")
)
PATH = Path("accounts.csv")


def test_empty_cells_take_the_defaults_and_filled_ones_override_them() -> None:
    data = (
        b"account,app,timezone,window,daily_limit,min_spacing,note\r\n"
        b"phone1,,,,,,\r\n"
        b"phone2,tiktok,Europe/Berlin,09:00-22:00,3,3h,new account - go slow\r\n"
    )
    roster = parse_roster(data, PATH, DEFAULTS)
    one, two = roster.entries
    assert (one.name, one.app, one.executor, one.rules) == ("phone1", "instagram", "appium", DEFAULTS.rules)
    assert (two.app, two.note) == ("tiktok", "new account - go slow")
    assert two.rules == AccountRules(3, "Europe/Berlin", PostingWindow.parse("09:00-22:00"), 3 * 3600)
    assert roster.rules() == {"phone1": DEFAULTS.rules, "phone2": two.rules}


def test_excel_semicolons_bom_and_windows_1252_are_read_and_said() -> None:
    data = "\ufeffAccount;App;Note\r\nphone1;instagram;caf\u00e9\r\n".encode("cp1252", errors="ignore")
    roster = parse_roster(data, PATH, DEFAULTS)
    assert roster.entries[0].note == "caf\u00e9"
    assert any("semicolon-separated" in w for w in roster.warnings)
    assert any("Windows-1252" in w and "CSV UTF-8" in w for w in roster.warnings)


def test_the_old_one_name_a_line_file_still_works() -> None:
    roster = parse_roster(b"# my phones\nphone1\n\nphone2\n", Path("accounts.txt"), DEFAULTS)
    assert roster.names() == ("phone1", "phone2")
    assert all(e.rules == DEFAULTS.rules for e in roster.entries)


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        ("phone1,snapchat,,,", "app", "'snapchat' is not one of instagram, tiktok"),
        ("phone1,,Mars/Olympus,,", "timezone", "'Mars/Olympus' is not a time zone name"),
        ("phone1,,,9-22,", "window", "write it as HH:MM-HH:MM"),
        ("phone1,,,,lots", "daily_limit", "'lots' is not a whole number"),
        ("phone 1,,,,", "account", "has no spaces"),
    ],
)
def test_a_bad_cell_names_the_file_line_and_column(row: str, column: str, reason: str) -> None:
    data = f"account,app,timezone,window,daily_limit\n{row}\n".encode()
    with pytest.raises(RosterError) as caught:
        parse_roster(data, PATH, DEFAULTS)
    assert (caught.value.line, caught.value.column) == (2, column)
    assert reason in str(caught.value) and str(caught.value).startswith("accounts.csv line 2, column")


def test_an_account_listed_twice_is_refused() -> None:
    with pytest.raises(RosterError, match="'Phone1' is listed twice \\(also line 2\\)"):
        parse_roster(b"account\nphone1\nPhone1\n", PATH, DEFAULTS)


def test_written_lists_read_back_the_same_and_keep_unknown_columns(tmp_path: Path) -> None:
    data = b"account,window,min_spacing,note,owner\nphone1,22:00-02:00,90m,=SUM(A1),Ana\n"
    roster = parse_roster(data, PATH, DEFAULTS)
    written = format_roster(roster)
    assert written.startswith(b"\xef\xbb\xbf") and b"\r\n" in written
    assert b"'=SUM(A1)" in written  # a spreadsheet never runs it
    (tmp_path / "accounts.csv").write_bytes(written)
    again = load_roster(tmp_path / "accounts.csv", DEFAULTS)
    assert again.entries == roster.entries
    assert again.entries[0].extras == {"owner": "Ana"}


def test_no_file_is_an_empty_list() -> None:
    assert load_roster(Path("/nonexistent/accounts.csv"), DEFAULTS).entries == ()

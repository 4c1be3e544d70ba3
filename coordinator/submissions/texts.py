"""The words of the materials messages and of the upload page, in English and Japanese.

:func:`t` works like :func:`coordinator.invites.texts.t` (English when a key or a language is
missing) on this module's own catalogue; dates and times are the reader's local time, formatted
by Babel in the reader's language (:func:`format_instant`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from babel.dates import format_date, format_time, get_timezone_name

from coordinator import timezones
from coordinator.invites.texts import display_offset, language_of, pick
from coordinator.invites.texts import t as invite_t

CATALOGUE: dict[str, dict[str, str]] = {
    "en": {
        "subject.call": "Materials for {session}: please upload by {deadline}",
        "subject.call_update": "New deadline for your materials for {session}: {deadline}",
        "subject.receipt": "Received: {filename} (version {version}) for {session}",
        "subject.chaser": "Reminder: your materials for {session} are due {relative}",
        "lead.call": (
            "You are presenting at {session}. Please upload your slides or documents with your "
            "personal link below by {deadline}."
        ),
        "lead.call_update": (
            "The deadline for your materials for {session} has changed: it is now {deadline}. "
            "Your personal link below is the one to use."
        ),
        "lead.receipt": "Thank you: we have received your materials for {session}.",
        "lead.chaser": (
            "We have not received your materials for {session} yet. They are due {relative}, "
            "by {deadline}."
        ),
        "label.session": "Session",
        "label.when": "When",
        "label.presentation": "Your presentation",
        "label.deadline": "Deadline",
        "label.upload": "Upload link",
        "label.accepted": "Accepted",
        "label.file": "File",
        "label.size": "Size",
        "label.sha256": "SHA-256",
        "label.version": "Version",
        "label.received": "Received",
        "accepted": "{types}; at most {limit} per file",
        "note.replace": (
            "You can replace your file with a new version until the deadline; the latest "
            "version is the one shown at the session."
        ),
        "note.personal": "This link is personal: please do not forward it.",
        "note.late": (
            "This file arrived after the deadline; the organizer accepted late materials for "
            "your presentation."
        ),
        "page.title": "Materials for {session}",
        "page.presenter": "Presenter",
        "page.current": "Current version",
        "page.none": "Nothing received yet.",
        "page.version": "version {version}: {filename}, {size}, received {when}",
        "page.choose": "Choose your file",
        "page.submit": "Upload",
        "page.replace_hint": "Uploading again adds a new version; the latest one counts.",
        "page.closed": "The deadline has passed: uploads are closed.",
        "page.late_open": "The deadline has passed, but the organizer accepts late materials.",
        "page.receipt_title": "Received, thank you",
        "page.duplicate": (
            "This file is identical to your current version {version}; nothing was changed."
        ),
        "page.back": "Back to the upload page",
        "page.error_title": "The upload was not accepted",
        "page.invalid_title": "This upload link cannot be used",
    },
    "ja": {
        "subject.call": "資料提出のお願い: {session}（締切 {deadline}）",
        "subject.call_update": "資料提出の締切が変更されました: {session}（新しい締切 {deadline}）",
        "subject.receipt": "資料を受け付けました: {filename}（第{version}版）{session}",
        "subject.chaser": "資料提出のお願い（再送）: {session}（締切は{relative}）",
        "lead.call": (
            "{session}でのご発表をお願いしております。下記の専用リンクから、{deadline}までに"
            "スライドまたは資料をアップロードしてください。"
        ),
        "lead.call_update": (
            "{session}の資料提出締切が{deadline}に変更されました。下記の専用リンクをご利用ください。"
        ),
        "lead.receipt": "{session}の資料を受け付けました。ありがとうございます。",
        "lead.chaser": (
            "{session}の資料をまだお受けしておりません。締切は{relative}（{deadline}）です。"
        ),
        "label.session": "会議",
        "label.when": "日時",
        "label.presentation": "ご発表",
        "label.deadline": "締切",
        "label.upload": "アップロード用リンク",
        "label.accepted": "受付形式",
        "label.file": "ファイル",
        "label.size": "サイズ",
        "label.sha256": "SHA-256",
        "label.version": "版",
        "label.received": "受付日時",
        "accepted": "{types}（1ファイル最大 {limit}）",
        "types": (
            "PDF、PowerPoint（PPTX）、Word（DOCX）、Excel（XLSX）、"
            "OpenDocument プレゼンテーション（ODP）、MP4 動画、PNG・JPEG 画像"
        ),
        "note.replace": "締切までは新しい版をアップロードして差し替えられます。最新の版が会議で使われます。",
        "note.personal": "このリンクはご本人専用です。転送しないでください。",
        "note.late": "締切後の提出ですが、主催者が遅れての提出を受け付けました。",
        "page.title": "{session} 資料の提出",
        "page.presenter": "発表者",
        "page.current": "現在の版",
        "page.none": "まだ提出されていません。",
        "page.version": "第{version}版: {filename}、{size}、{when}受付",
        "page.choose": "ファイルを選択",
        "page.submit": "アップロード",
        "page.replace_hint": "再度アップロードすると新しい版になります。最新の版が使われます。",
        "page.closed": "締切を過ぎたため、アップロードは締め切られました。",
        "page.late_open": "締切を過ぎていますが、主催者が遅れての提出を受け付けています。",
        "page.receipt_title": "受け付けました",
        "page.duplicate": "現在の第{version}版と同じファイルです。変更はありません。",
        "page.back": "アップロードページに戻る",
        "page.error_title": "アップロードを受け付けられませんでした",
        "page.invalid_title": "このアップロード用リンクは使えません",
    },
}


def t(language: str, key: str, /, **values: Any) -> str:
    lang = CATALOGUE.get(language) or CATALOGUE["en"]
    template = lang.get(key) or CATALOGUE["en"][key]
    return template.format(**values) if values else template


def accepted_types(language: str) -> str:
    """The accepted formats, named for the reader."""
    from coordinator.submissions.types import accepted_labels

    if language in CATALOGUE and "types" in CATALOGUE[language]:
        return CATALOGUE[language]["types"]
    return accepted_labels()


def label_sep(language: str) -> str:
    return invite_t(language, "label.sep")


def _zone(zone: str | None) -> str:
    return "UTC" if not zone or zone == timezones.UNKNOWN_ZONE else zone


def format_instant(instant: datetime, zone: str | None, language: str) -> str:
    """``Tuesday, September 26, 2023, 8:00 PM Japan Standard Time (UTC+09:00)``, in the
    reader's zone and language."""
    zone = _zone(zone)
    local = timezones.to_local(instant, zone)
    try:
        zone_name = get_timezone_name(local, "long", locale=language)
    except Exception:  # Babel has no name for some zones
        zone_name = zone
    date = format_date(local, "full", locale=language)
    time = format_time(local, "short", locale=language)
    offset = display_offset(timezones.utc_offset(instant, zone))
    if language == "ja":
        return f"{date} {time} {zone_name}（{offset}）"
    return f"{date}, {time} {zone_name} ({offset})"


def format_short(instant: datetime, zone: str | None, language: str) -> str:
    """``26 Sep 2023 20:00 (UTC+09:00)`` for subjects."""
    zone = _zone(zone)
    local = timezones.to_local(instant, zone)
    offset = display_offset(timezones.utc_offset(instant, zone))
    pattern = "M月d日(EEE)" if language == "ja" else "EEE d MMM"
    return f"{format_date(local, pattern, locale=language)} {local:%H:%M} ({offset})"


def session_name(title: str, title_ja: str | None, group: str, group_ja: str | None, language):
    """The session's title, followed by its group unless the title names it already."""
    title = pick(title, title_ja, language)
    group = pick(group, group_ja, language)
    if not group or group in title:
        return title
    return invite_t(language, "session.with_group", title=title, group=group)


__all__ = ["CATALOGUE", "format_instant", "format_short", "language_of", "session_name", "t"]

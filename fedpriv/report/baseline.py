"""DP-SGD settings among the results and the one chosen as the baseline of advantage scores (``--baseline``)."""

from __future__ import annotations

from dataclasses import dataclass

from fedpriv.report.cells import mean, number
from fedpriv.report.collect import ReportError, override_tokens
from fedpriv.report.roles import DP

# A seed does not change what is measured, only the draw; rows differing only in seed are one setting.
_NOT_SETTING = ("seed",)


@dataclass
class DpSetting:
    """The DP-SGD trials sharing one override set (seeds aside)."""

    tokens: tuple[tuple[str, object], ...]
    overrides: str
    rows: list[dict[str, str]]
    label: str = ""

    @property
    def trials(self) -> int:
        return len({row.get("trial_id") for row in self.rows})

    @property
    def noise_multiplier(self) -> float | None:
        return mean(number(row.get("noise_multiplier")) for row in self.rows)


def _setting_tokens(row: dict[str, str]) -> list[tuple[tuple[str, object], str]]:
    """(normalised token, token as typed) for each override that defines the setting."""
    raw = (row.get("overrides") or "").split()
    return [(norm, text) for norm, text in zip(override_tokens(" ".join(raw)), raw) if norm[0] not in _NOT_SETTING]


def dp_settings(rows: list[dict[str, str]]) -> list[DpSetting]:
    """Group the ``defense == dpsgd`` rows by override set; each gets the shortest label that tells it apart."""
    groups: dict[tuple, DpSetting] = {}
    typed: dict[tuple, list[tuple[tuple[str, object], str]]] = {}
    for row in rows:
        if row.get("defense") != DP:
            continue
        tokens = _setting_tokens(row)
        key = tuple(sorted((norm for norm, _ in tokens), key=repr))
        if key not in groups:
            groups[key] = DpSetting(key, " ".join(text for _, text in tokens), [])
            typed[key] = tokens
        groups[key].rows.append(row)
    shared = set.intersection(*(set(key) for key in groups)) if groups else set()
    for key, setting in groups.items():
        own = [text for norm, text in typed[key] if norm not in shared]
        setting.label = " ".join(own) or setting.overrides or f"defense={DP}"
    return sorted(groups.values(), key=lambda s: (s.noise_multiplier or 0.0, s.overrides))


def _describe(setting: DpSetting) -> str:
    sigma = setting.noise_multiplier
    trials = f"{setting.trials} trial{'s' * (setting.trials != 1)}"
    return trials if sigma is None else f"noise_multiplier {sigma:g}, {trials}"


def _token_matches(row: dict[str, str], key: str, value: object, present: dict[str, object]) -> bool:
    if key in present:
        return present[key] == value
    # The default of a key is not in the override string; its results column (last part of the key) still is.
    column = key.rsplit(".", 1)[-1]
    cell = row.get(column)
    return cell is not None and cell != "" and override_tokens(f"{column}={cell}")[0][1] == value


def select_baseline(rows: list[dict[str, str]], baseline: str | None) -> DpSetting | None:
    """The DP-SGD setting to compare against.

    ``baseline`` is a string of ``key=value`` tokens; a DP row is selected when its ``overrides`` cell holds
    every token (values compared as numbers when both parse as numbers; a key missing from the overrides is
    compared with the results column of the same name, so a default such as ``noise_multiplier`` still
    matches). Without ``baseline``, the only DP setting there is. Returns None when there is no DP setting and
    none was asked for; raises :class:`ReportError` otherwise when the choice is missing or ambiguous.
    """
    settings = dp_settings(rows)
    listing = "\n".join(f"  --baseline \"{s.label}\"  ({_describe(s)})" for s in settings)
    if baseline is None:
        if len(settings) <= 1:
            return settings[0] if settings else None
        raise ReportError(f"--baseline is needed: the results hold {len(settings)} DP-SGD settings:\n{listing}")
    wanted = override_tokens(baseline)
    bad = [value for key, value in wanted if not key]
    if bad or not wanted:
        raise ReportError(f"--baseline \"{baseline}\" must be key=value tokens separated by spaces, "
                          f"e.g. \"defense.noise_multiplier=0.5\"")
    if not settings:
        raise ReportError(f"--baseline \"{baseline}\": the results hold no DP-SGD trials (defense={DP})")
    chosen = []
    for setting in settings:
        picked = []
        for row in setting.rows:
            present = dict(override_tokens(row.get("overrides") or ""))
            if all(_token_matches(row, key, value, present) for key, value in wanted):
                picked.append(row)
        if picked:
            chosen.append(DpSetting(setting.tokens, setting.overrides, picked, setting.label))
    if not chosen:
        raise ReportError(f"--baseline \"{baseline}\" matches no DP-SGD trial; available settings:\n{listing}")
    if len(chosen) > 1:
        names = ", ".join(f"\"{s.label}\"" for s in chosen)
        raise ReportError(f"--baseline \"{baseline}\" matches {len(chosen)} DP-SGD settings ({names}); "
                          f"add a token to pick one:\n{listing}")
    return chosen[0]

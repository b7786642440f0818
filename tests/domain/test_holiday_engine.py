"""The holiday engine alone: known dates, the observed and estimated flags, refusals, the cache."""

from __future__ import annotations

from datetime import date

import pytest

from server.domain.holidays.engine import MAX_YEARS, HolidayEngine, HolidayQueryError


@pytest.fixture(scope="module")
def engine() -> HolidayEngine:
    return HolidayEngine()


def days_of(engine, country, start, end=None, subdivision=None, language="en_US", categories=None):
    spec = engine.resolve(country, subdivision, language, categories)
    return engine.days(spec, start, end or start)


def by_date(days):
    found: dict[date, list] = {}
    for day in days:
        found.setdefault(day.date, []).append(day)
    return found


def names_on(days, when):
    return [day.name for day in by_date(days).get(when, [])]


def test_korean_chuseok_2025_with_its_alternative_holiday(engine):
    days = by_date(days_of(engine, "KR", 2025))
    chuseok = [date(2025, 10, 5), date(2025, 10, 6), date(2025, 10, 7)]
    assert all(day in days for day in chuseok)
    assert [d.observed for when in chuseok for d in days[when]] == [False, False, False]
    (alternative,) = days[date(2025, 10, 8)]
    assert alternative.observed is True
    assert "Chuseok" in alternative.name
    assert date(2025, 10, 9) in days  # Hangul Day, not shifted
    assert not any(d.estimated for ds in days.values() for d in ds)


def test_korean_lunar_new_year_and_its_substitutes(engine):
    y2025 = by_date(days_of(engine, "KR", 2025))
    assert [date(2025, 1, 28), date(2025, 1, 29), date(2025, 1, 30)] == [
        when for when in y2025 if when.month == 1 and 28 <= when.day <= 30
    ]
    assert not any(d.observed for when in (28, 29, 30) for d in y2025[date(2025, 1, when)])
    # 2024: the second day fell on a Sunday, so Monday 12 February was off instead.
    y2024 = by_date(days_of(engine, "KR", 2024))
    assert [d.observed for d in y2024[date(2024, 2, 12)]] == [True]
    assert [d.observed for d in y2024[date(2024, 2, 10)]] == [False]
    # 2023: Korean New Year itself on a Sunday, substitute on Tuesday 24 January.
    y2023 = by_date(days_of(engine, "KR", 2023))
    assert [d.observed for d in y2023[date(2023, 1, 24)]] == [True]


def test_korean_names_come_in_korean_by_default_with_the_same_flags(engine):
    korean = days_of(engine, "KR", 2025, language=None)
    english = days_of(engine, "KR", 2025)
    assert "추석" in names_on(korean, date(2025, 10, 6))
    assert [(d.date, d.observed) for d in korean] == [(d.date, d.observed) for d in english]


def test_us_federal_days_observed_on_fridays_and_mondays(engine):
    y2026 = by_date(days_of(engine, "US", 2026))
    (friday,) = y2026[date(2026, 7, 3)]
    assert (friday.observed, date(2026, 7, 3).weekday()) == (True, 4)
    assert "Independence Day" in friday.name
    assert [d.observed for d in y2026[date(2026, 7, 4)]] == [False]
    y2027 = by_date(days_of(engine, "US", 2027))
    assert [d.observed for d in y2027[date(2027, 7, 5)]] == [True]  # 4 July 2027 is a Sunday
    assert date(2027, 7, 5).weekday() == 0


def test_new_years_day_observed_in_the_year_before(engine):
    days = days_of(engine, "US", 2021, 2022)
    (eve,) = by_date(days)[date(2021, 12, 31)]
    assert eve.observed is True
    assert "New Year" in eve.name
    assert [d.observed for d in by_date(days)[date(2022, 1, 1)]] == [False]
    assert days == sorted(days, key=lambda d: d.date)
    # The year it belongs to lists it; the next year's list does not repeat it.
    assert date(2021, 12, 31) in by_date(days_of(engine, "US", 2021))
    assert date(2021, 12, 31) not in by_date(days_of(engine, "US", 2022))


def test_german_states_differ(engine):
    bavaria = by_date(days_of(engine, "DE", 2025, subdivision="BY"))
    berlin = by_date(days_of(engine, "DE", 2025, subdivision="BE"))
    for when in (date(2025, 1, 6), date(2025, 6, 19), date(2025, 11, 1)):
        assert when in bavaria
        assert when not in berlin
    assert date(2025, 3, 8) in berlin
    assert date(2025, 3, 8) not in bavaria
    for when in (date(2025, 10, 3), date(2025, 12, 25), date(2025, 12, 26)):
        assert when in bavaria
        assert when in berlin
    federal = by_date(days_of(engine, "DE", 2025))
    assert date(2025, 1, 6) not in federal


def test_australian_states_differ(engine):
    labour = {
        "VIC": date(2025, 3, 10),
        "WA": date(2025, 3, 3),
        "QLD": date(2025, 5, 5),
        "NSW": date(2025, 10, 6),
    }
    for state, when in labour.items():
        days = days_of(engine, "AU", 2025, subdivision=state)
        assert [d.date for d in days if "Labo" in d.name] == [when], state
    assert date(2025, 11, 4) in by_date(days_of(engine, "AU", 2025, subdivision="VIC"))
    assert date(2025, 11, 4) not in by_date(days_of(engine, "AU", 2025, subdivision="NSW"))
    assert date(2025, 6, 2) in by_date(days_of(engine, "AU", 2025, subdivision="WA"))


def test_australian_weekend_holidays_move_to_weekdays(engine):
    nsw = by_date(days_of(engine, "AU", 2026, 2027, subdivision="NSW"))
    assert [d.observed for d in nsw[date(2026, 12, 28)]] == [True]  # Boxing Day, a Saturday
    assert [d.observed for d in nsw[date(2027, 12, 27)]] == [True]  # Christmas, a Saturday
    assert [d.observed for d in nsw[date(2027, 12, 28)]] == [True]  # Boxing Day, a Sunday
    # 26 January 2025 was a Sunday: the day off moved to Monday, under its own name.
    y2025 = by_date(days_of(engine, "AU", 2025, subdivision="NSW"))
    assert date(2025, 1, 26) not in y2025
    assert [(d.name, d.observed) for d in y2025[date(2025, 1, 27)]] == [("Australia Day", True)]


def test_categories_are_kept_apart_and_labelled(engine):
    public = days_of(engine, "AU", 2025, subdivision="NSW")
    both = days_of(engine, "AU", 2025, subdivision="NSW", categories=["public", "bank"])
    banks = [d for d in both if d.category == "bank"]
    assert [d.date for d in banks] == [date(2025, 8, 4)]
    assert [d for d in both if d.category == "public"] == public
    assert both == sorted(both, key=lambda d: d.date)
    reordered = days_of(engine, "AU", 2025, subdivision="NSW", categories=["BANK", "public"])
    assert reordered == both


def test_estimated_lunar_dates_are_flagged_in_every_language(engine):
    singapore = days_of(engine, "SG", 2061, 2064, language=None)
    english = days_of(engine, "SG", 2061, 2064)
    both = [d for d in english if d.observed and d.estimated]
    assert date(2061, 5, 2) in [d.date for d in both]
    assert any(d.estimated and not d.observed for d in english)
    assert [(d.date, d.observed, d.estimated) for d in singapore] == [
        (d.date, d.observed, d.estimated) for d in english
    ]
    for day in english:
        assert day.estimated == ("estimated" in day.name), day
    arabic = days_of(engine, "EG", 2070, language="ar_EG")
    assert any(d.estimated for d in arabic)
    assert [d.estimated for d in arabic] == [d.estimated for d in days_of(engine, "EG", 2070)]


def test_flags_agree_across_every_language_of_every_country(engine):
    checked = 0
    for country in engine.countries():
        for year in (2025, 2070):
            if len(country["languages"]) < 2 or not (
                country["start_year"] <= year <= country["end_year"]
            ):
                continue
            flags = {
                lang: [
                    (d.date, d.observed, d.estimated)
                    for d in days_of(engine, country["code"], year, language=lang)
                ]
                for lang in country["languages"]
            }
            first = next(iter(flags.values()))
            assert all(sorted(f) == sorted(first) for f in flags.values()), (country["code"], year)
            checked += 1
    assert checked > 200


def test_inputs_are_canonicalised(engine):
    spec = engine.resolve("de", "bayern", "EN-us", ["PUBLIC"])
    assert (spec.country, spec.subdivision, spec.language, spec.categories) == (
        "DE",
        "BY",
        "en_US",
        ("public",),
    )
    assert spec.code == "DE-BY"
    assert engine.resolve("au", "nsw western").subdivision == "NSW Western"
    assert engine.resolve("KR").language == "ko"


@pytest.mark.parametrize(
    ("query", "field", "listed", "member"),
    [
        ({"country": "XX"}, "country", "countries", "KR"),
        ({"country": "ZZZ"}, "country", "countries", "US"),
        ({"country": "US", "subdivision": "ZZ"}, "subdivision", "subdivisions", "CA"),
        ({"country": "KR", "subdivision": "11"}, "subdivision", "subdivisions", None),
        ({"country": "KR", "language": "fr"}, "language", "languages", "ko"),
        ({"country": "US", "categories": ["nope"]}, "categories", "categories", "public"),
    ],
)
def test_unknown_inputs_are_refused_with_what_exists(engine, query, field, listed, member):
    with pytest.raises(HolidayQueryError) as refused:
        engine.resolve(**query)
    assert refused.value.details["field"] == field
    values = refused.value.details[listed]
    assert member in values if member else values == []


@pytest.mark.parametrize(
    ("start", "end", "field", "key"),
    [
        (2000, 2000 + MAX_YEARS, "end_year", "max_years"),
        (2026, 2025, "end_year", "start_year"),
        (1900, 1901, "start_year", "min_year"),
        (2100, 2101, "end_year", "max_year"),
    ],
)
def test_bad_year_ranges_are_refused(engine, start, end, field, key):
    spec = engine.resolve("KR")
    with pytest.raises(HolidayQueryError) as refused:
        engine.days(spec, start, end)
    assert refused.value.details["field"] == field
    assert key in refused.value.details


def test_fifty_years_is_the_longest_range(engine):
    spec = engine.resolve("KR")
    days = engine.days(spec, 2000, 2000 + MAX_YEARS - 1)
    assert {d.date.year for d in days} == set(range(2000, 2050))


def test_days_between_clamps_to_known_years_and_dates(engine):
    spec = engine.resolve("US", language="en_US")
    window = engine.days_between(spec, date(2021, 12, 20), date(2022, 1, 10))
    assert [d.date for d in window] == [
        date(2021, 12, 24),
        date(2021, 12, 25),
        date(2021, 12, 31),
        date(2022, 1, 1),
    ]
    assert engine.days_between(spec, date(1, 1, 1), date(5, 1, 1)) == []
    assert engine.days_between(spec, date(9000, 1, 1), date.max) == []


def test_a_small_cache_evicts_and_answers_the_same(engine):
    tiny = HolidayEngine(cache_entries=2)
    spec = tiny.resolve("KR")
    first = tiny.days(spec, 2020, 2026)
    assert tiny.days(spec, 2020, 2026) == first == engine.days(engine.resolve("KR"), 2020, 2026)


def test_countries_list_subdivisions_languages_and_years(engine):
    countries = {c["code"]: c for c in engine.countries()}
    assert len(countries) >= 240
    assert countries["KR"]["name"] == "South Korea"
    assert countries["KR"]["default_language"] == "ko"
    assert "en_US" in countries["KR"]["languages"]
    assert {"code": "BY", "name": "Bayern"} in countries["DE"]["subdivisions"]
    assert countries["US"]["default_category"] == "public"
    assert countries["KR"]["start_year"] <= 1950
    assert countries["KR"]["end_year"] >= 2050
    for country in countries.values():
        assert (
            country["default_language"] is None
            or country["default_language"] in country["languages"]
        )


def test_titles_name_the_country_and_subdivision(engine):
    assert engine.title(engine.resolve("DE", "BY")) == "Germany (Bayern) holidays"
    assert engine.title(engine.resolve("KR")) == "South Korea holidays"


def test_every_subdivision_and_category_computes_without_error(engine):
    # The package is wide (about 650 subdivisions, 27 categories); a combination it
    # cannot compute would be an internal_error for the client who asks for it.
    combos = 0
    for country in engine.countries():
        years = (country["start_year"], 2025, country["end_year"])
        for sub in [None, *(s["code"] for s in country["subdivisions"])]:
            for category in country["categories"]:
                year = years[combos % 3]
                if country["start_year"] <= year <= country["end_year"]:
                    engine.days(engine.resolve(country["code"], sub, None, [category]), year, year)
                combos += 1
    assert combos > 1500

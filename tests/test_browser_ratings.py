"""Reviewers' ratings in a real headless Chromium: the talent pool links to interviewer calibration,
which shows the generous interviewer's bias and flag; the compare page shows each candidate's
average rating and the individual ratings with links to the replay. Screenshots are kept for
docs/talent-pool.md (test-artifacts/, copied to docs/img/)."""

from __future__ import annotations

import pytest

from test_browser_replay import ARTIFACTS, live_server, page  # noqa: F401  (fixtures: signed-in HR page on a live server)
from test_rater_calibration import rated_world

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_calibration_and_compare_show_the_ratings(page, make_user):  # noqa: F811
    world = rated_world(make_user)
    ARTIFACTS.mkdir(exist_ok=True)

    page.goto(f"{page.base}/pool")
    with page.expect_navigation(url=f"{page.base}/reviews/calibration"):
        page.click("#rater-calibration-link")
    ann = page.locator("#raters tr[data-rater='Ann Generous']")
    cells = ann.locator("td").all_inner_texts()
    assert cells[:5] == ["3", "5.00", "+2.00", "2.00", "3"]  # ratings, mean, then against peers: bias, mean gap, shared
    assert cells[5:] == ["+0.50", "0.50", "3"]  # against the AI's 0.5: a 5 is 1.0 on its scale
    assert page.locator("#raters [data-flag='peers-over']").first.is_visible()
    assert "Negotiation: rates higher than other interviewers" in page.locator("#raters").inner_text()
    page.screenshot(path=str(ARTIFACTS / "interviewer-calibration.png"), full_page=True)

    s1, t1 = world["candidates"]["S1"], world["candidates"]["T1"]
    page.goto(f"{page.base}/pool/compare?c={s1.id}&c={t1.id}")
    assert page.locator(f".rating-average td[data-candidate='{s1.id}']").inner_text() == "Reviewers: 3.0 / 5 from 5 ratings"
    assert page.locator(f".rating-average td[data-candidate='{t1.id}']").inner_text() == "Reviewers: 2.5 / 5 from 2 ratings"
    assert "Reviewers: 3.5 / 5 from 4 ratings" in page.locator("#compare td[data-competency='negotiation']").first.inner_text()
    first = page.locator("#compare tr.ratings td").first.locator("a.rating-link").first
    assert first.get_attribute("href") == f"/recordings/{world['recordings']['S1'].id}?t=12"
    assert page.locator("#compare tr.ratings").inner_text().count("Ann Generous") == 1
    page.screenshot(path=str(ARTIFACTS / "compare-ratings.png"), full_page=True)
    assert not page.errors, page.errors

"""Reviewers' side of a replay: comments and ratings, verdicts on AI cues, and the calibration of
each organisation's analyzer thresholds from those verdicts. The web page and the API both call
these modules, so validation and audit are the same whichever way a reviewer comes in. The talent
pool reads the ratings (ratings.py) and compares interviewers with each other (raters.py)."""

"""Notifications of alerts to people: per recipient (inspectors, enterprise contacts), per kind
and severity, by e-mail, webhook, DingTalk and WeCom robots; one at an episode's opening and one
at its close, escalation when not acknowledged, quiet hours and a digest of low severities;
decided into the records database first, so that each is sent at least once (store.notifications).
"""

"""Day two: the dashboard, the freshness alarms, the PARTIAL alarm and the alarms' own topic."""

from __future__ import annotations

import io
import json
from typing import Any

from emulated_account import EmulatedAccount
from tools.cfn_resolve import Resolver

SCHEDULED = {"AllowedClusterIdentifiers": "orders-prod,billing", "EnableSchedule": "true", "ScheduleClusterIdentifier": "billing"}


def _created(cfn: dict[str, Any], parameters: dict[str, str]) -> tuple[Resolver, dict[str, dict[str, Any]]]:
    resolver = Resolver(cfn, parameters, stack_name="lake-a")
    return resolver, {name: r for name, r in cfn["Resources"].items()
                      if "Condition" not in r or resolver.condition(r["Condition"])}


def _alarms(cfn: dict[str, Any], parameters: dict[str, str]) -> dict[str, dict[str, Any]]:
    resolver, created = _created(cfn, parameters)
    return {name: resolver.resolve(r["Properties"]) for name, r in created.items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def test_a_scheduled_cluster_gets_a_freshness_alarm_on_its_own_successes(cfn: dict[str, Any]) -> None:
    alarms = _alarms(cfn, {**SCHEDULED, "FreshnessAlarmHours": "30"})
    alarm = alarms["ScheduledClusterFreshnessAlarm"]
    assert "ScheduledFleetFreshnessAlarm" not in alarms
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AuroraLake", "ExportsSucceeded")
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {"service": "aurora-lake", "stack": "lake-a", "cluster": "billing"}
    assert alarm["Period"] == 3600 and alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == "30"
    # Hours without any success breach: silence is what the alarm is for.
    assert alarm["TreatMissingData"] == "breaching" and alarm["ComparisonOperator"] == "LessThanThreshold"
    # CloudWatch: Period x EvaluationPeriods at most 7 days for periods of an hour or more.
    assert int(cfn["Parameters"]["FreshnessAlarmHours"]["MaxValue"]) * 3600 <= 7 * 86400


def test_a_scheduled_fleet_gets_one_stale_sources_alarm_and_a_no_fleet_ran_alarm(cfn: dict[str, Any]) -> None:
    alarms = _alarms(cfn, {**SCHEDULED, "ScheduleTarget": "fleet"})
    assert "ScheduledClusterFreshnessAlarm" not in alarms
    stack = [{"Name": "service", "Value": "aurora-lake"}, {"Name": "stack", "Value": "lake-a"}]
    # One alarm for every source, however many: the summary's count of stale sources.
    stale = alarms["StaleSourcesAlarm"]
    assert (stale["Namespace"], stale["MetricName"], stale["Dimensions"]) == ("AuroraLake", "StaleSources", stack)
    assert (stale["Statistic"], stale["ComparisonOperator"], stale["Threshold"]) == ("Maximum", "GreaterThanOrEqualToThreshold", 1)
    # Between two scheduled runs (no datapoint) the alarm keeps its state.
    assert stale["TreatMissingData"] == "ignore"
    # No freshness check at all for FreshnessAlarmHours: no scheduled fleet reached its summary.
    ran = alarms["ScheduledFleetFreshnessAlarm"]
    assert (ran["MetricName"], ran["Dimensions"], ran["Statistic"]) == ("StaleSources", stack, "SampleCount")
    assert ran["EvaluationPeriods"] == ran["DatapointsToAlarm"] == "26" and ran["TreatMissingData"] == "breaching"


def test_no_schedule_or_zero_hours_no_freshness_alarm_and_partial_alarm_only_when_asked(cfn: dict[str, Any]) -> None:
    assert not {"ScheduledClusterFreshnessAlarm", "ScheduledFleetFreshnessAlarm", "PartialExportsAlarm"} & set(
        _alarms(cfn, {"AllowedClusterIdentifiers": "billing"}))
    assert "ScheduledClusterFreshnessAlarm" not in _alarms(cfn, {**SCHEDULED, "FreshnessAlarmHours": "0"})
    partial = _alarms(cfn, {"AllowedClusterIdentifiers": "billing", "AlarmOnPartialExport": "true"})["PartialExportsAlarm"]
    assert partial["MetricName"] == "PartialExports"
    assert {d["Name"]: d["Value"] for d in partial["Dimensions"]} == {"service": "aurora-lake", "stack": "lake-a"}


def test_every_alarm_goes_to_the_alarm_topic_when_one_is_asked_for(cfn: dict[str, Any]) -> None:
    everything = {**SCHEDULED, "EnableSnapshotEventTrigger": "true", "AlarmOnPartialExport": "true"}
    for parameters, topic in ((everything, "<NotificationTopic>"),
                              ({**everything, "AlarmNotificationEmail": "oncall@example.com"}, "<AlarmTopic>")):
        alarms = _alarms(cfn, parameters)
        assert len(alarms) >= 6
        for name, alarm in alarms.items():
            assert alarm["AlarmActions"] == [topic], name
    resolver, created = _created(cfn, {**everything, "AlarmNotificationEmail": "oncall@example.com"})
    subscription = resolver.resolve(created["AlarmEmailSubscription"]["Properties"])
    assert subscription == {"TopicArn": "<AlarmTopic>", "Protocol": "email", "Endpoint": "oncall@example.com"}
    assert resolver.resolve(created["AlarmTopic"]["Properties"])["KmsMasterKeyId"] == "<ExportKey.Arn>"


def test_the_dashboard_shows_this_stacks_runs_duration_gigabytes_tables_and_polls(cfn: dict[str, Any]) -> None:
    resolver, created = _created(cfn, {"AllowedClusterIdentifiers": "billing"})
    body = json.loads(resolver.resolve(created["ExportsDashboard"]["Properties"])["DashboardBody"])
    titles = {widget["properties"]["title"] for widget in body["widgets"]}
    assert titles == {"Runs by outcome", "Run duration (ms)", "Exported GB", "Tables exported and skipped", "Status polls",
                      "Stale sources (scheduled fleet; names in reports/freshness/latest.json)", "Triggers and fleet runs"}
    metrics = [m for widget in body["widgets"] for m in widget["properties"]["metrics"]]
    own = [m for m in metrics if m[0] == "AuroraLake"]
    assert own and all(m[m.index("stack") + 1] == "lake-a" for m in own)
    shown = {part for m in metrics for part in m if isinstance(part, str)}
    assert shown >= {"StaleSources", "TriggersStarted", "TriggersAlreadyStarted", "TriggersIgnored"}


def test_the_freshness_alarm_watches_exactly_the_metric_a_successful_run_publishes() -> None:
    output = io.StringIO()
    parameters = {"EnableSchedule": "true", "ScheduleClusterIdentifier": "demo-aurora-cluster"}
    with EmulatedAccount(parameters=parameters, handler_output=output) as account:
        alarm = account.template.resolve(account.template.resources["ScheduledClusterFreshnessAlarm"]["Properties"])
        result = account.run({"cluster_identifier": "demo-aurora-cluster"})
    assert result.status == "SUCCEEDED"
    published = [json.loads(line) for line in output.getvalue().splitlines() if '"ExportsSucceeded"' in line]
    assert len(published) == 1
    [[dimensions]] = [m["Dimensions"] for m in published[0]["_aws"]["CloudWatchMetrics"]]
    assert published[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == alarm["Namespace"]
    assert {name: published[0][name] for name in dimensions} == {d["Name"]: d["Value"] for d in alarm["Dimensions"]}

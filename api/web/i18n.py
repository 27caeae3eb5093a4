"""Labels of the web pages in Chinese and English.

Pollutant names and units come from the catalogue (core/pollutants.py: name_zh, name_en,
unit); data flags from HJ 212-2017 table 8 (hj212.md §11.1). The language is the ``lang``
cookie when set, else the browser's first choice between the two.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.web.labels_more import MORE
from api.web.labels_public import PUBLIC
from api.web.labels_reports import REPORTS
from core.pollutants import BY_KEY, DATA_FLAGS

LANGS = ("zh", "en")
LANG_COOKIE = "ems_lang"

# Flags in Chinese, as HJ 212-2017 table 8 names them (English: core.pollutants.DATA_FLAGS).
FLAGS_ZH = {"N": "正常", "F": "停运", "M": "维护", "S": "手工输入", "D": "故障", "C": "校准",
            "T": "超测量上限", "B": "通讯异常"}

TEXT: dict[str, tuple[str, str]] = {  # key: (zh, en)
    "app": ("排放监测", "Emissions monitoring"),
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "api_key": ("API 密钥", "API key"),
    "login_help": ("用管理员发放的 API 密钥登录。", "Log in with the API key you were given."),
    "login_failed": ("密钥无效或已撤销。", "The key is not valid or was revoked."),
    "rankings": ("排名", "Rankings"),
    "alerts": ("告警", "Alerts"),
    "alert": ("告警", "Alert"),
    "enterprise": ("企业", "Enterprise"),
    "region": ("区域", "Region"),
    "industry": ("行业", "Industry"),
    "all": ("全部", "All"),
    "start": ("开始", "Start"),
    "end": ("结束", "End"),
    "per": ("分段", "Per"),
    "month": ("月", "month"),
    "quarter": ("季度", "quarter"),
    "show": ("查看", "Show"),
    "rank": ("名次", "Rank"),
    "name": ("名称", "Name"),
    "compliance_rate": ("达标率", "Compliance rate"),
    "exceedance_hours": ("超标小时", "Exceeded hours"),
    "max_multiple": ("最大超标倍数", "Max multiple"),
    "transmission_rate": ("数据传输率", "Transmission rate"),
    "validity_rate": ("数据有效率", "Validity rate"),
    "effective_transmission_rate": ("数据传输有效率", "Effective transmission"),
    "open_alerts": ("未关闭告警", "Open alerts"),
    "status": ("状态", "Status"),
    "status_C": ("达标", "compliant"),
    "status_E": ("超标", "exceeded"),
    "status_U": ("无判定", "undetermined"),
    "kind": ("类型", "Kind"),
    "outlet": ("排放口", "Outlet"),
    "outlets": ("排放口", "Outlets"),
    "pollutant": ("污染物", "Pollutant"),
    "medium": ("介质", "Medium"),
    "interval": ("采样间隔", "Interval"),
    "limits": ("限值", "Limits"),
    "limit": ("限值", "Limit"),
    "filter": ("筛选", "Filter"),
    "severity": ("严重程度", "Severity"),
    "hours": ("小时数", "Hours"),
    "peak_multiple": ("峰值倍数", "Peak multiple"),
    "notes": ("记录", "Notes"),
    "note": ("说明", "Note"),
    "acknowledge": ("确认", "Acknowledge"),
    "resolve": ("关闭", "Resolve"),
    "explanation": ("企业说明", "Explanation"),
    "explain": ("提交说明", "Send explanation"),
    "no_alerts": ("没有告警。", "No alerts."),
    "judged_hours": ("小时判定", "Judged hours"),
    "corrected_mean": ("折算浓度", "Corrected mean"),
    "exceeded": ("超标", "Exceeded"),
    "data_quality": ("数据质量", "Data quality"),
    "valid_hours": ("有效小时", "Valid hours"),
    "hours_received": ("有数据小时", "Hours with data"),
    "readings": ("监测数据", "Readings"),
    "day": ("日期", "Day"),
    "previous_day": ("前一天", "Previous day"),
    "next_day": ("后一天", "Next day"),
    "today": ("今天", "Today"),
    "flagged": ("非正常标记", "Flagged (not N)"),
    "flag": ("标记", "Flag"),
    "value": ("数值", "Value"),
    "time": ("时间", "Time"),
    "download_csv": ("下载 CSV", "Download CSV"),
    "no_data": ("该时段没有数据。", "No data in this period."),
    "period": ("时段", "Period"),
    "error": ("错误", "Error"),
    "back": ("返回", "Back"),
    "more_rows": ("另有 {n} 条未显示。", "{n} more not shown."),
    "acknowledged_ok": ("已确认。", "Acknowledged."),
    "resolved_ok": ("已关闭。", "Resolved."),
    "explained_ok": ("说明已保存。", "Explanation saved."),
    # Operating-state marks (MEE 2022 marking rules: 停运, 启炉, 停炉, 维护, 故障)
    "marks": ("工况标记", "Operating-state marks"),
    "marks_help": ("企业对停运、启停炉、维护和故障时段进行标记；标记一经提交不可修改，只能撤回。",
                   "The enterprise marks shutdown, start-up, shutdown, maintenance and fault "
                   "periods; a mark cannot be edited once declared, only withdrawn."),
    "mark_kind": ("标记类型", "Mark"),
    "mark_shutdown": ("停运", "shutdown"),
    "mark_startup": ("启炉（开机）", "start-up"),
    "mark_shutdown_process": ("停炉（停机过程）", "shutdown process"),
    "mark_maintenance": ("维护", "maintenance"),
    "mark_fault": ("故障", "fault"),
    "mark_withdrawn": ("已撤回", "withdrawn"),
    "mark_standing": ("有效", "standing"),
    "mark_marked_ok": ("标记已提交。", "Mark declared."),
    "mark_withdrawn_ok": ("标记已撤回。", "Mark withdrawn."),
    "declare_mark": ("新增标记", "Declare a mark"),
    "declare": ("提交标记", "Declare"),
    "withdraw": ("撤回", "Withdraw"),
    "reason": ("原因", "Reason"),
    "declared": ("申报", "Declared"),
    "exclusive": ("不含", "exclusive"),
    "no_marks": ("没有标记。", "No marks."),
    "judged_on_days": ("日均值超标", "daily mean over its limit"),
    "follows": ("接续告警", "Continues"),
    "kind_exceedance": ("超标", "exceedance"),
    "kind_data_gap": ("数据缺失", "data gap"),
    "kind_over_range": ("超量程", "over range"),
    "kind_suspicious_flatline": ("数据恒值", "flat line"),
    "kind_invalid_data": ("无效数据", "invalid data"),
    "kind_broker_drops": ("代理丢弃消息", "broker dropped messages"),
    "kind_unexplained_high_o2": ("氧含量异常偏高", "high O2, no stop declared"),
    "kind_invalid_hour_over_limit": ("无效小时超限", "invalid hour over the limit"),
    "kind_pinned_under_limit": ("数据贴限", "pinned just under the limit"),
    "kind_o2_inconsistent": ("氧含量与工况不符", "O2 inconsistent with the process"),
    "kind_near_constant": ("数据近似恒定", "near-constant values"),
    "kind_flags_follow_readings": ("标记随高值出现", "flags follow high readings"),
    "kind_manual_values": ("人工数据", "values set by hand (S)"),
    "kind_rate_limit": ("排放速率超标", "emission rate over the kg/h limit"),
    "kind_permit_80": ("许可排放量已用80%", "80 % of the permitted total used"),
    "kind_permit_100": ("超许可排放量", "permitted annual total passed"),
    "kind_permit_projection": ("预计超许可排放量", "on course to pass the permitted total"),
    "kind_device_mismatch": ("设备小时均值不符", "device hour means disagree"),
    "kind_corrected_mismatch": ("设备折算值不符", "device corrected values disagree"),
    "kind_copied_day": ("整日数据重复", "day copied from another"),
    "kind_analyser_change": ("仪器参数修改后读数下降", "readings fell after an analyser change"),
    "kind_o2_below_norm": ("氧含量低于同类工况", "O2 under its source type's norm"),
    "kind_o2_against_flow": ("氧含量与烟气流量不符", "O2 not following the flow"),
    "st_open": ("待处理", "open"),
    "st_acknowledged": ("已确认", "acknowledged"),
    "st_resolved": ("已关闭", "resolved"),
    "medium_gas": ("废气", "flue gas"),
    "medium_water": ("废水", "wastewater"),
    "sev_low": ("低", "low"),
    "sev_medium": ("中", "medium"),
    "sev_high": ("高", "high"),
    "sev_critical": ("严重", "critical"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "language": ("English", "中文"),
    "hours_summary": ("{n} 小时，有效 {valid}，超标 {exceeded}",
                      "{n} hours, {valid} valid, {exceeded} exceeded"),
    "readings_summary": ("{n} 个值，{flagged} 个非正常标记", "{n} values, {flagged} flagged"),
    **MORE,
    **PUBLIC,
    **REPORTS,
    # Reports (api/web/reports.py)
    "reports": ("报表", "Reports"),
    "reports_count": ("共 {n} 份", "{n} reports"),
    "reports_none": ("暂无已出具的报表。", "No report issued yet."),
    "report_kind": ("类型", "Kind"),
    "report_period": ("期间", "Period"),
    "report_version": ("版本", "Version"),
    "report_issued": ("出具者", "Issued by"),
    "report_files": ("文件", "Files"),
    "report_hj75": ("HJ 75 监测报表", "HJ 75 table"),
    "report_permit": ("排污许可执行报告", "Permit execution"),
    "report_disclosure": ("年度披露（草稿）", "Disclosure draft"),
    "period_day": ("日", "day"),
    "period_month": ("月", "month"),
    "period_quarter": ("季", "quarter"),
    "period_year": ("年", "year"),
    "next_page": ("下一页", "Next page"),
}


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The page language: the cookie's, else zh when the browser prefers Chinese, else en."""
    if cookie in LANGS:
        return str(cookie)
    first = (accept_language or "").split(",")[0].strip().lower()
    return "zh" if first.startswith("zh") else "en"


@dataclass(frozen=True, slots=True)
class Labels:
    """Labels in one language (``lang``), with the other one at hand for pollutant names."""

    lang: str

    def __call__(self, key: str, **values: object) -> str:
        zh, en = TEXT[key]
        text = zh if self.lang == "zh" else en
        return text.format(**values) if values else text

    def maybe(self, key: str, fallback: str) -> str:
        """The label of ``key`` if there is one, else ``fallback`` (e.g. a new alert kind)."""
        return self(key) if key in TEXT else fallback

    def pollutant(self, key: str) -> str:
        """Name in this language ("二氧化硫" or "Sulphur dioxide"); the key itself when it is
        not in the catalogue."""
        p = BY_KEY.get(key)
        if p is None:
            return key
        return p.name_zh if self.lang == "zh" else p.name_en

    def pollutant_other(self, key: str) -> str:
        """The name in the other language, shown alongside."""
        p = BY_KEY.get(key)
        if p is None:
            return ""
        return p.name_en if self.lang == "zh" else p.name_zh

    def unit(self, key: str) -> str:
        p = BY_KEY.get(key)
        return p.unit if p is not None else ""

    def flag(self, letter: str) -> str:
        if self.lang == "zh":
            return FLAGS_ZH.get(letter, letter)
        return DATA_FLAGS.get(letter, letter)

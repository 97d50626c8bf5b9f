"""Who is in the demo: people and firms with plausible names and valid
identifiers (check characters computed as the real ones are), and the
institutions that furnish and query."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from portal.audit.purposes import Purpose
from portal.institutions.models import InstitutionKind
from portal.institutions.services import NewInstitution
from portal.records.identifiers import resident_id_check, uscc_check

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = [
    "伟",
    "芳",
    "娜",
    "秀英",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀兰",
    "霞",
    "平",
    "刚",
    "桂英",
    "建华",
    "文",
    "华",
    "金凤",
    "玉兰",
    "建国",
    "志强",
    "海燕",
    "晓东",
    "子涵",
    "梓萱",
    "浩然",
    "宇轩",
    "欣怡",
    "雨桐",
    "思远",
    "嘉怡",
    "俊杰",
    "佳琪",
    "一鸣",
    "若曦",
    "天宇",
    "晨阳",
    "明轩",
    "诗涵",
]
# County-level division codes (GB/T 2260) with the city used in firm names.
REGIONS = [
    ("110101", "北京"),
    ("110105", "北京"),
    ("110108", "北京"),
    ("120101", "天津"),
    ("310101", "上海"),
    ("310115", "上海"),
    ("320102", "南京"),
    ("330106", "杭州"),
    ("350102", "福州"),
    ("370102", "济南"),
    ("420102", "武汉"),
    ("440103", "广州"),
    ("440305", "深圳"),
    ("500103", "重庆"),
    ("510104", "成都"),
    ("610113", "西安"),
]
FIRM_WORDS = [
    "恒信",
    "华泰",
    "鼎盛",
    "宏达",
    "瑞丰",
    "嘉禾",
    "博远",
    "中联",
    "正源",
    "天成",
    "汇通",
    "明德",
    "锦程",
    "永安",
    "新元",
    "安和",
]
FIRM_TRADES = ["科技", "贸易", "建设工程", "食品", "物流", "医药", "电子", "餐饮管理", "文化传媒", "机械制造"]

DEMO_INSTITUTIONS = [
    NewInstitution(
        "hengtong-bank",
        "恒通银行",
        "Hengtong Bank",
        InstitutionKind.BANK,
        [Purpose.LOAN_APPROVAL, Purpose.CREDIT_CARD_APPROVAL, Purpose.GUARANTEE_REVIEW, Purpose.POST_LOAN_MANAGEMENT],
        "周立",
        "credit-ops@hengtong.example",
        (8, 20),
    ),
    NewInstitution(
        "jinqiao-bank",
        "金桥商业银行",
        "Jinqiao Commercial Bank",
        InstitutionKind.BANK,
        [Purpose.LOAN_APPROVAL, Purpose.CREDIT_CARD_APPROVAL, Purpose.POST_LOAN_MANAGEMENT],
        "吴敏",
        "risk@jinqiao.example",
        (8, 20),
    ),
    NewInstitution(
        "anxin-finance",
        "安信消费金融",
        "Anxin Consumer Finance",
        InstitutionKind.LENDER,
        [Purpose.LOAN_APPROVAL, Purpose.POST_LOAN_MANAGEMENT],
        "郑航",
        "compliance@anxin.example",
        (8, 20),
    ),
    NewInstitution(
        "xiaoyu-microcredit",
        "小雨小额贷款",
        "Xiaoyu Microcredit",
        InstitutionKind.LENDER,
        [Purpose.LOAN_APPROVAL, Purpose.POST_LOAN_MANAGEMENT],
        "钱宁",
        "ops@xiaoyu.example",
    ),
    NewInstitution(
        "mingzhou-court",
        "明州市中级人民法院",
        "Mingzhou Intermediate People's Court",
        InstitutionKind.COURT,
        [Purpose.COURT_ENFORCEMENT],
        "孙法",
        "enforcement@court.example",
    ),
    NewInstitution(
        "mingzhou-tax",
        "明州市税务局",
        "Mingzhou Tax Bureau",
        InstitutionKind.TAX_BUREAU,
        [],
        "李税",
        "arrears@tax.example",
    ),
    NewInstitution(
        "mingzhou-samr",
        "明州市市场监督管理局",
        "Mingzhou Administration for Market Regulation",
        InstitutionKind.REGULATOR,
        [],
        "赵监",
        "penalties@samr.example",
    ),
    NewInstitution(
        "mingzhou-water",
        "明州水务集团",
        "Mingzhou Water Group",
        InstitutionKind.UTILITY,
        [],
        "陈水",
        "billing@water.example",
    ),
    NewInstitution(
        "mingzhou-power",
        "明州供电公司",
        "Mingzhou Power Supply",
        InstitutionKind.UTILITY,
        [],
        "黄电",
        "billing@power.example",
    ),
    NewInstitution(
        "yunfan-hr",
        "云帆人力资源",
        "Yunfan HR Services",
        InstitutionKind.EMPLOYER,
        [Purpose.EMPLOYMENT_SCREENING],
        "林帆",
        "screening@yunfan.example",
    ),
]


@dataclass
class People:
    rng: random.Random
    today: date

    def person(self) -> tuple[str, str]:
        name = self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)
        region = self.rng.choice(REGIONS)[0]
        born = self.today - timedelta(days=self.rng.randint(20 * 365, 70 * 365))
        body = f"{region}{born:%Y%m%d}{self.rng.randint(0, 999):03d}"
        return body + resident_id_check(body), name

    def firm(self) -> tuple[str, str]:
        region, city = self.rng.choice(REGIONS)
        name = f"{city}{self.rng.choice(FIRM_WORDS)}{self.rng.choice(FIRM_TRADES)}有限公司"
        org = "".join(self.rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
        org += _org_code_check(org)
        body = "91" + region + org
        return body + uscc_check(body), name


def _org_code_check(first8: str) -> str:
    """GB 11714 organisation code check character."""
    value = sum(int(c, 36) * w for c, w in zip(first8, [3, 7, 9, 10, 5, 8, 4, 2], strict=True))
    check = 11 - value % 11
    return {10: "X", 11: "0"}.get(check, str(check))

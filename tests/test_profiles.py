"""Both catalogs against the regulations' own text (衢州 第十七条至第二十条, 苏州 第八条至第十二条)."""

from __future__ import annotations

import pytest

from rules.errors import ProfileError
from rules.profiles import available_profiles, load_profile

# (profile, item, article, points, words of the regulation the item must carry), typed from the
# regulations' text: 衢医保发〔2020〕64号 and 苏州市医疗保障定点医疗机构医师信用记分管理办法（征求意见稿）.
CATALOG = [
    # 衢州 第十七条: 每次计扣 12 分
    ("quzhou-2020", "17.1", "衢州 第十七条", 12, "吊销医师、助理医师或乡村医生执业证书"),
    ("quzhou-2020", "17.2", "衢州 第十七条", 12, "编造医疗文书、出具虚假医疗证明、办理虚假住院"),
    ("quzhou-2020", "17.3", "衢州 第十七条", 12, "串通他人虚开门诊、住院票据"),
    ("quzhou-2020", "17.4", "衢州 第十七条", 12, "拒绝、阻挠或不配合医疗保障部门开展必要监督检查"),
    ("quzhou-2020", "17.5", "衢州 第十七条", 12, "挑动参保人员集体上访"),
    ("quzhou-2020", "17.6", "衢州 第十七条", 12, "造成医疗保险基金重大损失"),
    # 衢州 第十八条: 每次计扣 6 分
    ("quzhou-2020", "18.1", "衢州 第十八条", 6, "故意不核实患者身份，导致冒名住院"),
    ("quzhou-2020", "18.2", "衢州 第十八条", 6, "串换医疗保险药品、医疗服务项目"),
    ("quzhou-2020", "18.3", "衢州 第十八条", 6, "故意夸大、掩盖医疗事实"),
    ("quzhou-2020", "18.4", "衢州 第十八条", 6, "出现医疗事故造成参保人严重伤害"),
    ("quzhou-2020", "18.5", "衢州 第十八条", 6, "造成医疗保险基金较大损失的行为"),
    # 衢州 第十九条: 每次计扣 2 分
    ("quzhou-2020", "19.1", "衢州 第十九条", 2, "未按规定核验就诊人员身份，导致冒名就医"),
    ("quzhou-2020", "19.2", "衢州 第十九条", 2, "将服务编码转借给被暂停、解除或未签订服务协议的医师"),
    ("quzhou-2020", "19.3", "衢州 第十九条", 2, "冒用其他医保医师服务编码"),
    ("quzhou-2020", "19.4", "衢州 第十九条", 2, "医疗收费与病历记录、医疗操作不符"),
    ("quzhou-2020", "19.5", "衢州 第十九条", 2, "分解检查、治疗、处方和收费"),
    ("quzhou-2020", "19.6", "衢州 第十九条", 2, "不因病施治，过度医疗"),
    ("quzhou-2020", "19.7", "衢州 第十九条", 2, "未如实记载受伤原因和经过"),
    ("quzhou-2020", "19.8", "衢州 第十九条", 2, "收治不符合入院治疗指征"),
    ("quzhou-2020", "19.9", "衢州 第十九条", 2, "其他违反医疗保险规定，造成医保基金损失"),
    # 衢州 第二十条: 每次计扣 1 分
    ("quzhou-2020", "20.1", "衢州 第二十条", 1, "未按病历书写规范书写门诊、住院病历"),
    ("quzhou-2020", "20.2", "衢州 第二十条", 1, "导致重复配药、重复检查"),
    ("quzhou-2020", "20.3", "衢州 第二十条", 1, "超药品使用说明书范围用药"),
    ("quzhou-2020", "20.4", "衢州 第二十条", 1, "不执行门诊处方外配制度"),
    ("quzhou-2020", "20.5", "衢州 第二十条", 1, "未事先履行告知义务"),
    ("quzhou-2020", "20.6", "衢州 第二十条", 1, "不坚持首诊负责制和双向转诊制"),
    ("quzhou-2020", "20.7", "衢州 第二十条", 1, "让住院参保人员带医疗检查或治疗项目出院"),
    ("quzhou-2020", "20.8", "衢州 第二十条", 1, "不按规定参加经办机构或定点医疗机构举办的医疗保险业务培训"),
    ("quzhou-2020", "20.9", "衢州 第二十条", 1, "违反医疗保险有关规定的其他情形"),
    # 苏州 第八条: 每次（例）记 12 分
    ("suzhou-2021-draft", "8.1", "苏州 第八条", 12, "骗取医疗保障基金支出"),
    ("suzhou-2021-draft", "8.2", "苏州 第八条", 12, "案件中负直接责任"),
    ("suzhou-2021-draft", "8.3", "苏州 第八条", 12, "造成严重后果或医保基金重大损失"),
    # 苏州 第九条: 每次（例）记 6 分
    ("suzhou-2021-draft", "9.1", "苏州 第九条", 6, "协助他人骗取医疗保障基金支出"),
    ("suzhou-2021-draft", "9.2", "苏州 第九条", 6, "案件中负次要责任"),
    ("suzhou-2021-draft", "9.3", "苏州 第九条", 6, "提供虚假情况或者拒绝、阻挠、不配合监督检查"),
    # 苏州 第十条: 每次（例）记 3 分
    ("suzhou-2021-draft", "10.1", "苏州 第十条", 3, "造成医疗保障基金损失或参保人利益受损"),
    ("suzhou-2021-draft", "10.2", "苏州 第十条", 3, "未正确宣传医疗保障法律法规、政策规定"),
    # 苏州 第十二条: 每次（例）记 1 分 (the draft has no 第十一条)
    ("suzhou-2021-draft", "12.1", "苏州 第十二条", 1, "未执行实名就医和购药管理规定"),
    ("suzhou-2021-draft", "12.2", "苏州 第十二条", 1, "未按照诊疗规范提供合理、必要的医药服务"),
    ("suzhou-2021-draft", "12.3", "苏州 第十二条", 1, "未向参保人员如实出具费用单据和相关资料"),
    ("suzhou-2021-draft", "12.4", "苏州 第十二条", 1, "提供医疗保障基金支付范围以外的医药服务"),
    ("suzhou-2021-draft", "12.5", "苏州 第十二条", 1, "被医疗保障部门约谈"),
]


@pytest.mark.parametrize(("profile", "item", "article", "points", "words"), CATALOG)
def test_catalog_item_matches_the_regulation(
    profile: str, item: str, article: str, points: int, words: str
) -> None:
    entry = load_profile(profile).item(item)
    assert (entry.article, entry.points) == (article, points)
    assert words in entry.text


@pytest.mark.parametrize("profile", ["quzhou-2020", "suzhou-2021-draft"])
def test_catalog_has_no_item_beyond_the_regulation(profile: str) -> None:
    typed = {item for name, item, *_ in CATALOG if name == profile}
    assert set(load_profile(profile).items) == typed


def test_both_regulations_are_available_profiles() -> None:
    assert {"quzhou-2020", "suzhou-2021-draft"} <= set(available_profiles())


def test_unknown_item_is_a_profile_error_naming_the_item() -> None:
    with pytest.raises(ProfileError, match="11.1"):
        load_profile("suzhou-2021-draft").item("11.1")


def test_unknown_profile_is_a_profile_error_naming_the_known_ones() -> None:
    with pytest.raises(ProfileError, match="quzhou-2020"):
        load_profile("hangzhou-2030")


@pytest.mark.parametrize(
    ("profile", "auto_sanctions", "counting"),
    [
        ("quzhou-2020", True, "every_occurrence"),  # 衢州 第二十一条; 第十七条 "每次计扣"
        ("suzhou-2021-draft", False, "per_case"),  # 苏州 第十六条 (notice and hearing); 第十四条
    ],
)
def test_profile_sanctioning_and_counting_follow_the_regulation(
    profile: str, auto_sanctions: bool, counting: str
) -> None:
    loaded = load_profile(profile)
    assert (loaded.auto_sanctions, loaded.counting) == (auto_sanctions, counting)


def test_quzhou_bands_follow_article_21_and_22() -> None:
    bands = load_profile("quzhou-2020").bands
    assert bands.interview_points == 6
    assert bands.suspend_months == ((9, 1), (10, 2), (11, 3))
    assert (bands.terminate_points, bands.terminate_ban_years) == (12, 1)
    assert (bands.one_shot_points, bands.one_shot_ban_years, bands.one_shot_ban_years_max) == (12, 1, 5)
    assert (bands.consecutive_years, bands.consecutive_points) == (3, 9)
    assert bands.restoration_working_days == 7


def test_suzhou_settlement_suspension_is_due_at_12_points_without_restoration_requests() -> None:
    bands = load_profile("suzhou-2021-draft").bands
    assert (bands.settlement_suspension_points, bands.restoration_working_days) == (12, 0)

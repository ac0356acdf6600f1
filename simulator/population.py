"""Who the candidates and recruiters are: static profiles for one season."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulator.params import SimParams

SCHOOLS = {
    1: ["清华大学", "北京大学", "上海交通大学", "浙江大学", "复旦大学"],
    2: ["华中科技大学", "东南大学", "山东大学", "四川大学", "武汉大学", "中山大学"],
    3: ["南京工业大学", "湖北工业大学", "江西财经大学", "苏州科技大学", "浙江工业大学"],
}
CITIES = [
    "上海",
    "北京",
    "深圳",
    "杭州",
    "苏州",
    "成都",
    "武汉",
    "南京",
    "西安",
    "合肥",
    "南昌",
    "哈尔滨",
    "昆明",
    "郑州",
    "长沙",
]
WORK_CITIES = ["上海", "北京", "深圳", "杭州", "苏州", "成都", "武汉"]

# role family -> (departments, majors that fit, share of offers)
ROLES: dict[str, tuple[list[str], list[str], float]] = {
    "tech": (
        ["研发中心", "算法部", "平台部"],
        ["计算机科学与技术", "软件工程", "电子信息工程"],
        0.32,
    ),
    "product": (["产品部"], ["信息管理", "计算机科学与技术", "工业设计"], 0.12),
    "design": (["设计中心"], ["视觉传达设计", "工业设计"], 0.07),
    "marketing": (["品牌部", "市场部"], ["市场营销", "新闻学", "工商管理"], 0.12),
    "sales": (["销售部"], ["市场营销", "工商管理"], 0.12),
    "operations": (["运营部"], ["工商管理", "信息管理"], 0.10),
    "manufacturing": (["制造部", "质量部"], ["材料科学与工程", "机械工程", "电子信息工程"], 0.15),
}
ALL_MAJORS = sorted({m for _, majors, _ in ROLES.values() for m in majors})
ROLE_TOPICS = {
    "tech": ["tech_stack", "team", "growth"],
    "manufacturing": ["training", "tech_stack"],
}


@dataclass
class Population:
    """Static attributes as arrays (for the engine) plus the contract's candidate frame."""

    frame: pd.DataFrame  # candidates.csv columns
    owners: pd.DataFrame  # hr_owner, diligence, personalisation
    owner_idx: np.ndarray
    tier: np.ndarray
    quality: np.ndarray
    attractiveness: np.ndarray
    far: np.ndarray
    misfit: np.ndarray
    role_idx: np.ndarray
    dept_manager_days: np.ndarray
    hr_director_days: np.ndarray
    interests: np.ndarray  # (n, topics) bool
    consent: np.ndarray
    interview_day: np.ndarray
    interview_score: np.ndarray
    info_session_day: np.ndarray  # -1 when not attended
    affinity: np.ndarray  # hidden: the random part of initial commitment


def make_population(
    season: str, n: int, rng: np.random.Generator, p: SimParams, id_prefix: str
) -> Population:
    year = int(season[:4])
    roles = list(ROLES)
    role_idx = rng.choice(
        len(roles),
        size=n,
        p=np.array([ROLES[r][2] for r in roles]) / sum(ROLES[r][2] for r in roles),
    )
    tier = rng.choice([1, 2, 3], size=n, p=list(p.tier_shares))
    quality = rng.normal(0, 1, n) + np.select([tier == 1, tier == 3], [0.5, -0.3], 0.0)
    degree = rng.choice(["bachelor", "master", "phd"], size=n, p=[0.55, 0.4, 0.05])
    attractiveness = 0.6 * quality + 0.3 * (degree != "bachelor")

    majors, departments, schools = [], [], []
    misfit = np.zeros(n, dtype=bool)
    for i in range(n):
        depts, fit, _ = ROLES[roles[role_idx[i]]]
        departments.append(depts[rng.integers(len(depts))])
        if rng.random() < 0.8:
            majors.append(fit[rng.integers(len(fit))])
        else:
            majors.append(ALL_MAJORS[rng.integers(len(ALL_MAJORS))])
            misfit[i] = majors[-1] not in fit
        options = SCHOOLS[int(tier[i])]
        schools.append(options[rng.integers(len(options))])
    dept_names = sorted({d for depts, _, _ in ROLES.values() for d in depts})
    dept_speed = {d: rng.uniform(*p.dept_manager_days_mean) for d in dept_names}
    director_speed = rng.uniform(*p.hr_director_days_mean)
    dept_manager_days = np.array([dept_speed[d] for d in departments])
    hr_director_days = np.full(n, director_speed)

    work_city = rng.choice(WORK_CITIES, size=n)
    far = rng.random(n) < p.far_from_home_share
    home_city = np.where(far, rng.choice(CITIES, size=n), work_city)
    far = home_city != work_city

    n_topics = len(p.topics)
    interests = rng.random((n, n_topics)) < 0.18
    housing = p.topics.index("housing")
    interests[:, housing] |= far & (rng.random(n) < 0.6)
    for role, topics in ROLE_TOPICS.items():
        is_role = role_idx == roles.index(role)
        for t in topics:
            interests[:, p.topics.index(t)] |= is_role & (rng.random(n) < 0.3)

    n_owners = max(2, round(n / p.hr_candidates_per_owner))
    owners = pd.DataFrame(
        {
            "hr_owner": [f"hr{i + 1:02d}" for i in range(n_owners)],
            "diligence": rng.uniform(0.25, 1.0, n_owners),
            "personalisation": rng.uniform(0.0, 0.9, n_owners),
        }
    )
    owner_idx = rng.integers(0, n_owners, n)
    consent = rng.random(n) < p.consent_share

    lo, hi = p.interview_window
    interview_day = rng.integers(lo, hi, n)
    interview_score = np.clip(np.round(3 + 0.8 * quality + rng.normal(0, 0.5, n)), 1, 5)
    # latent affinity for this company: the hidden part of commitment, which also shows
    # (noisily) in who bothers to come to an info session
    affinity = rng.normal(0, 1, n)
    logit_share = np.log(p.info_session_share / (1 - p.info_session_share))
    attended = rng.random(n) < 1 / (1 + np.exp(-(logit_share + p.info_session_affinity * affinity)))
    info_session_day = np.where(attended, np.maximum(interview_day - rng.integers(3, 25, n), 0), -1)

    birth_year = year - 22 + (degree == "master") * -2 + (degree == "phd") * -5
    birthday = pd.to_datetime(
        {
            "year": birth_year - rng.integers(0, 3, n),
            "month": rng.integers(1, 13, n),
            "day": rng.integers(1, 29, n),
        }
    )
    start = pd.Timestamp(year + 1, *p.start_date_month_day)
    gender = rng.choice(["female", "male"], size=n)
    frame = pd.DataFrame(
        {
            "candidate_id": [f"{id_prefix}{i:06d}" for i in range(n)],
            "season": season,
            "school": schools,
            "school_tier": tier,
            "major": majors,
            "degree": degree,
            "role_family": [roles[r] for r in role_idx],
            "department": departments,
            "work_city": work_city,
            "home_city": home_city,
            "hr_owner": owners["hr_owner"].to_numpy()[owner_idx],
            "birthday": birthday.dt.strftime("%Y-%m-%d"),
            "start_date": start.strftime("%Y-%m-%d"),
            "consent_external_signals": np.where(consent, "true", "false"),
            "gender": gender,
        }
    )
    return Population(
        frame=frame,
        owners=owners,
        owner_idx=owner_idx,
        tier=tier,
        quality=quality,
        attractiveness=attractiveness,
        far=far,
        misfit=misfit,
        role_idx=role_idx,
        dept_manager_days=dept_manager_days,
        hr_director_days=hr_director_days,
        interests=interests,
        consent=consent,
        interview_day=interview_day,
        interview_score=interview_score,
        info_session_day=info_session_day,
        affinity=affinity,
    )


# Titles as a company writes them: words, not codes.
ROLE_TITLES = {
    "tech": "技术岗",
    "product": "产品岗",
    "design": "设计岗",
    "marketing": "市场岗",
    "sales": "销售岗",
    "operations": "运营岗",
    "manufacturing": "制造岗",
}
TOPIC_TITLES = {
    "salary": "薪酬福利",
    "housing": "住房与安家",
    "training": "培训安排",
    "team": "团队介绍",
    "tech_stack": "技术栈",
    "growth": "成长路径",
    "location": "工作地点",
}


def content_library(p: SimParams) -> pd.DataFrame:
    """The content.csv the simulated company works with."""
    rows: list[tuple[str, str, str, str, str]] = []
    for role in ROLES:
        for topic in p.topics:
            if topic == "tech_stack" and role not in ("tech", "manufacturing"):
                continue
            kind = "video" if (len(rows) % 3 == 2) else "article"
            title = f"{ROLE_TITLES.get(role, role)}：{TOPIC_TITLES.get(topic, topic)}专题"
            rows.append((title, kind, role, topic, "any"))
    rows += [
        ("公司新闻 本周动态", "news", "", "other", "any"),
        ("节日问候", "greeting", "", "other", "any"),
        ("录用确认与电子签", "guide", "", "other", "offer"),
        ("入职指南（含异地住房安排）", "guide", "", "housing", "accepted"),
        ("入职材料清单", "guide", "", "training", "pre_start"),
    ]
    frame = pd.DataFrame(rows, columns=["title", "kind", "role_families", "topics", "stage"])
    frame.insert(0, "content_id", [f"C{i + 1:03d}" for i in range(len(frame))])
    return frame

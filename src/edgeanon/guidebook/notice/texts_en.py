"""The notice in English, written as an English notice would say it (not translated word by word from Japanese)."""

from __future__ import annotations

from edgeanon.config.names import DAYS
from edgeanon.guidebook import policy
from edgeanon.guidebook.notice.texts import Texts, day_runs

DAY_NAMES = dict(zip(DAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))
AGES = {"<20": "under 20", "20s": "20s", "30s": "30s", "40s": "40s", "50s": "50s", "60+": "60 and over"}
GENDERS = {"female": "female", "male": "male"}


# what is kept: ``content.Kept.output`` -> {names} {grids} {k} {k2} {what}
KEPT = {
    "camera_occupancy": "People in view of each camera (cameras: {names})",
    "zone_occupancy": "People in each area (areas: {names})",
    "site_occupancy": "People in the store, worked out from the counts at the entrances (entrances: {names})",
    "line_crossings": "People crossing each counting line, by direction in or out (lines: {names})",
    "zone_dwell": "Time spent in each area, as a distribution: how many people stayed about how long; not "
    "recorded for a period in which fewer than {k} people left the area (areas: {names})",
    "heatmap": "People on each cell of a coarse floor grid ({grids}); cells with fewer than {k} people are not "
    "recorded; each person counts once per cell (cameras: {names})",
    "queue": "People waiting at the checkout and the estimated waiting time; the waiting time is not given when "
    "fewer than {k} people finished waiting (areas: {names})",
    "line_groups": "Groups of people crossing a counting line together, by group size (1, 2, 3, 4 or more); if a "
    "size was counted fewer than {k} times, or fewer than {k2} people crossed, no size is recorded for that "
    "period (lines: {names})",
    "zone_movement": "People moving through each area, by direction (8 directions) and by speed (slow, normal, "
    "fast); if a count is below {k}, none of that breakdown is recorded for that period (areas: {names})",
    "attributes": "People by machine-estimated {what}, counted when they cross a counting line or leave an area; "
    "if a count is below {k}, none of the breakdown at that place is recorded for that period (places: {names})",
}


def join(items: list[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def period(s: int) -> str:
    """After "per": "hour", "5 minutes", "90 seconds"."""
    for unit, n in (("hour", 3600), ("minute", 60)):
        if s % n == 0:
            return unit if s == n else f"{s // n} {unit}s"
    return f"{s} seconds"


def days(ds: tuple[str, ...]) -> str:
    if set(ds) == set(DAYS):
        return "Every day"
    parts = []
    for run in day_runs(ds):
        if len(run) >= 3:
            parts.append(f"{DAY_NAMES[run[0]]}–{DAY_NAMES[run[-1]]}")
        else:
            parts.extend(DAY_NAMES[d] for d in run)
    return ", ".join(parts)


def clock(hhmm: str) -> str:
    return hhmm


EN = Texts(
    code="en",
    name="English",
    title="About our use of camera images",
    list_sep=", ",
    join=join,
    period=period,
    days=days,
    clock=clock,
    intros={
        "occupancy": "see how busy the store is",
        "flow": "count visitors",
        "dwell": "see how long people stay in each area",
        "heatmap": "see which parts of the floor are used",
        "queue": "keep checkout queues short",
        "attributes": "estimate the {what} of visitors, as statistics only",
    },
    lead="{operator} uses cameras in this store to {intro}. The images are analysed on a device in the store only to "
    "count people{analysis}, and are discarded immediately after analysis. They are never recorded and never sent "
    "anywhere.",
    lead_analysis=("", " and estimate their {what}"),
    operator_title="Who operates the cameras",
    operator_labels=("Operator", "Person in charge"),
    descriptions={p: en for p, (en, _) in policy.PURPOSE_DESCRIPTIONS.items()},
    purposes_title="Purposes",
    purposes_intro="Camera images are used only for the following purposes, and for nothing else.",
    captured_title="What is captured",
    cameras="The cameras in this store ({n} in total: {names}) capture images of people within their view.",
    analysis="Each image is analysed on a device in the store to find where people are{analysis}, and is erased "
    "immediately after that analysis. The video decoder holds only the latest image, in the device's memory, until "
    "the next one replaces it. Images are never recorded or stored, and never sent over the internet or anywhere "
    "else.",
    analysis_attributes=("", " and to estimate their {what}"),
    refrain_intro="The analysis does not:",
    refrain=(
        "identify anyone (there is no face recognition of any kind)",
        "compute or keep feature data, such as the relative positions of eyes, nose and mouth",
        "estimate sensitive information such as race, beliefs, disability or health",
        "recognise returning visitors or follow a person from one camera to another",
    ),
    refrain_attributes="estimate attributes such as gender or age",
    refrain_one="estimate {what}",
    refrain_words={"gender": "gender", "age_band": "age"},
    temporary_ids="To count people, the device gives each person on screen a temporary number. It exists only in the "
    "device's memory, is erased as soon as the person leaves the view, and is never stored or sent.",
    installer="An installer mode is active until {until}: the device's setup page shows installers live outlines of "
    "where people are (outlines, never images), to place counting zones and lines. The outlines are never stored or "
    "sent. The mode turns itself off at that time.",
    what_words={"gender": "gender", "age_band": "age group"},
    what_sep=" and ",
    attr_intro="A machine estimates each person's {what} from the camera image, and the results are kept only as "
    "statistics. No face images or face feature data are kept. Only the following are estimated:",
    attr_device="The estimate is made on the device in the store. The image and the face crops used for it are erased "
    "immediately afterwards. No facial feature data for identifying anyone is computed.",
    attr_stats="Only statistics are kept: how many people fell into each group, per {period} (if a group has fewer "
    "than {k} people, none of the groups at that place is recorded for that period). No one's individual estimate is "
    "recorded, and no one is identified.",
    attr_caveat="These are machine estimates and can be wrong. They are never used to treat anyone differently.",
    ages=AGES,
    age_sep=", ",
    estimated_age="Age group: {bands} ({n} groups, never finer than ten years)",
    genders=GENDERS,
    gender_sep=" or ",
    estimated_gender="Gender: {genders}",
    kept_title="What is kept and for how long",
    kept_intro="Only the following counts are kept, each summarised per {period}. Camera images are not kept.",
    kept=KEPT,
    retention="The counts are kept for {days} days and then deleted automatically. No one can be identified from them.",
    third_title="Third parties",
    third_provided="Camera images are never given to anyone. Only aggregate counts, from which no one can be "
    "identified, are provided to:",
    third_none="Neither camera images nor counts are provided to any third party.",
    hours_title="Operating hours",
    hours_intro="The cameras run only at these times. Outside them they are switched off and capture nothing.",
    hours_entry="{days} {open}–{close}",
    hours_all_day="The cameras run all day (24 hours).",
    contact_title="Contact",
    contact_intro="For questions or comments about our use of camera images, please contact:",
    contact_label="Contact",
    contact_who="{operator} ({accountable})",
    contact_kinds={"email": "Email", "phone": "Phone", "url": "Contact page"},
    published="This notice is also published at ",
    footer="This notice was prepared with reference to the Camera Image Utilization Guidebook ver3.0 of Japan's "
    "Ministry of Economy, Trade and Industry and Ministry of Internal Affairs and Communications.",
    txt_field_sep=": ",
    txt_bullet="- ",
    txt_heading="{title}",
    txt_underline=True,
)

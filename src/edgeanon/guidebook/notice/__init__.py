"""The prior notice (事前告知): what a store posts at its entrance and on the web before anyone is filmed.

Source: METI/MIC "カメラ画像利活用ガイドブック ver3.0" (2022-03-30), phase 事前告知時 (rule R7-notice). The notice
names the operator and the accountable person, the purposes, what is captured and how the images are handled, what
is kept and for how long, third-party provision, operating hours and the inquiry contact.

Everything is generated from the config alone: ``content`` derives the facts, ``skeleton`` lays them out in one
order for every language, ``texts_ja`` / ``texts_en`` say them (written as a store would write each language, not
translated word by word), and the small document model (``document``) is rendered as a standalone HTML page
(``html_page``) or as wrapped plain text (``plain_text``). ``render`` is the entry point. In HTML every
config-derived string is escaped; links are made only for validated contacts and http(s) notice URLs.
"""

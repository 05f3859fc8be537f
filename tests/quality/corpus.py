"""A seeded generator of realistic hotline calls with their ground truth. Rule: speech is
modelled first (clean text, true timings at each speaker's rate) and the labels are read off
that true speech; only then does an independent ASR noise layer turn it into what Vosk
would return (space-separated words, homophones, near-homophones, dropped and inserted
characters, a traditional-script model on some calls, per-word conf). Nothing here knows
how the scorer matches.

`generate(n, seed, cer)` -> list[Call]; `Call.data` is the scoring JSON
(CallInput.from_dict), `Call.labels` what a perfect inspector would mark:

- greeting_missing / greeting_agent_number: judged on the agent utterances starting within
  the first 15 s; the greeting, a drilled script, runs at >= 100 chars/min, so the number
  is said within ~12 s of pickup whatever the agent's pace. A help offer said with 你 (an
  impolite agent) is never generated, so no label depends on whether 你 stands for 您.
- closing_missing: on the agent utterances ending within the last 30 s of agent speech;
  closings are either in the last ~15 s or, for the "check, then more talk" case, over
  45 s before the end, so no label sits on the edge.
- forbidden_phrase / abusive_language: one Occurrence per phrase said by the agent, with
  the true times of its characters. 「我也没办法马上到，师傅半小时内到」 holds the literal
  phrase but is an explanation with a remedy, not a refusal; without punctuation no text
  rule can tell it from the 忌语, so it is `tolerated`: a hit there is neither right nor
  wrong. 「滚烫」 is not the insult 滚 (must not fire), nor is anything the customer says,
  nor 不知道 in 「如果您不知道户号…」, 着急 in 「您别着急」, 下班了 in 「晚上下班了也可以打」.
- politeness: the items of 请 / 您 / 再见 absent from the agent's true speech (agent lines
  never hold 请 inside another word such as 申请).
- speech_rate_*: true characters per minute of agent utterance time; agents are fast
  (200–260), slow (52–65; under 70 with the greeting) or normal (100–135), never near the
  default pack's band 120 ± 30 (150 / 90).
- interruption: agent utterances begun while the customer was still talking, both going
  on for more than 1 s (staged cut-ins overlap 1.8–3 s); a 嗯 over the customer's turn is
  none. More than one in a call (the default pack's allowance) fires.
- The seeds' 忌语 also come near-missed by the agent (我知道了, 如果您不清楚…, 您可以自己看…),
  which are no 忌语 (`INNOCENT` names the words that make a phrase innocent), and a
  recogniser that cuts the agent channel's last word short (再见 heard as 再): the word
  was said, and the labels say so.
- silence_long: true gaps; dead air is 20–40 s on both channels, other gaps stay < 8 s.
- answer_late: ring_seconds 17–45 vs 1–12.

The recognizer (`_Asr`): each utterance draws its own error rate (gamma, mean = the CER
asked for, at most 0.6: errors come in bursts); each character then errs by its class
(PROFILES): mostly a homophone among everyday characters (您→你, 请→清, 幺→要, 再见→在见,
知道→指导, 办法→半法, 客服→客户 …), else a near-homophone (zh/z, n/l, an/ang …), any other
character, a drop or an insertion. Digits err half as often, nearly always as homophones;
particles are often dropped. Words are re-cut (merged, split) as another lexicon would;
12 % of calls come from a traditional-script model; conf is lower on corrupted words (not
always). `measured_cer` checks the result after `normalize` against the true speech.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from opencc import OpenCC
from pypinyin import Style, lazy_pinyin

ORG = "燃气客服中心"
RULES = (
    "greeting_missing",
    "greeting_agent_number",
    "closing_missing",
    "forbidden_phrase",
    "abusive_language",
    "politeness",
    "speech_rate_fast",
    "speech_rate_slow",
    "interruption",
    "silence_long",
    "answer_late",
)
FORBIDDEN = (
    "我不知道",
    "这不关我的事",
    "有意见找领导去",
    "你问我我问谁",
    "不行就是不行这是规定",
    "我也没办法",
    "你自己先查清楚",
    "你到底想怎么样",
    "不归我们管",
    "我说了你也不懂",
    "你听不懂吗",
    "没看我正忙着吗",
    "着什么急",
    "下班了明天再打",
    # the seeds' other 服务忌语 (the regulation packs' lists), in the words agents say them
    "不是告诉你了吗",
    "听清楚了没有",
    "就是这样规定的",
    "你去投诉吧",
    "早干什么去了",
    "急什么",
    "这个我不管",
    "谁告诉你的找谁去",
    "我就这态度",
    "你怎么这么啰嗦",
    "下班了明天再来",
    "电脑算的不会错",
    "你找别人吧",
    "快点说",
    "有完没完",
    "这个我管不了",
    "爱找谁找谁",
    "你怎么什么都不懂",
    "这是你自己的问题",
    "跟我说也没用",
    "不清楚",
    "没有办法",
    "自己看",
    "打错了",
)
# a phrase inside these words is said innocently: no 忌语 (and 滚烫, scalding hot, no insult)
INNOCENT = {
    "滚": ("滚烫",),
    "不清楚": ("如果您不清楚",),
    "自己看": ("可以自己看",),
    "打错了": ("是不是打错了",),
}
INTERRUPT_TOLERANCE_S = 1.0  # talking over the customer longer than this is 抢话
INTERRUPTS_ALLOWED = 1  # per call, as the default pack allows
ABUSIVE = ("神经病", "滚", "有病吧", "脑子有病", "去死")
POLITE_ITEMS = ("请", "您", "再见")
SALUTATIONS = ("您好", "你好")
HELP_OFFERS = ("请问有什么可以帮您", "请问有什么可以帮到您", "有什么可以帮您", "请问您有什么需要")
CHECKS = ("请问您还有其他问题吗", "还有什么可以帮您", "还有其他需要吗")
PUNCT = frozenset("，。？！、")
DIGITS = "零一二三四五六七八九"

# --- what people say (pre-segmented into words the way a Chinese ASR lexicon would) ------

GREET_MODEL = (
    "您好 ， 燃气 客服 中心 {num} 号 为 您 服务 ， 请问 有 什么 可以 帮 您 ？",
    "您好 ！ 我 是 燃气 客服 中心 {num} 号 客服 代表 ， 请问 有 什么 可以 帮 到 您 ？",
    "您好 ， 燃气 客服 中心 ， 我 是 {num} 号 ， 请问 您 有 什么 需要 ？",
)
GREET_NO_NUMBER = (
    "您好 ， 燃气 客服 中心 ， 请问 有 什么 可以 帮 您 ？",
    "您好 ， 请问 有 什么 可以 帮 您 ？",
)
GREET_NONE = ("喂 ？", "嗯 ， 你 说", "什么 事 ？", "喂 ， 说 吧")
GREET_ONE_PART = ("喂 ， 燃气 客服 中心", "你好 ， 说 吧", "喂 ， 有 什么 可以 帮 您 ？")
GREET_RUDE = ("你好 ， 燃气 客服 中心 {num} 号", "喂 ， 燃气 客服 中心 ， 什么 事 ？")

CLOSE_FULL = (
    ("请问 您 还有 其他 问题 吗 ？", "没有 了 ， 谢谢", "好 的 ， 感谢 您 的 来电 ， 再见 ！"),
    ("还有 什么 可以 帮 您 的 吗 ？", "没 了 没 了", "好 的 ， 祝 您 生活 愉快 ， 再见"),
    ("请问 您 还有 其他 问题 吗 ？", "没有 了", "那 请 您 保持 电话 畅通 ， 再见"),
)
CLOSE_CHECK = (
    ("请问 您 还有 其他 问题 吗 ？", "没有 了 ， 谢谢", "好 的 ， 感谢 您 的 来电"),
    ("还有 其他 需要 吗 ？", "没 了", "好 ， 那 先 这样"),
)
CLOSE_BYE = (("好 的 ， 再见",), ("那 就 这样 ， 再见",))
CLOSE_NONE = (("好 的 ， 就 这样 吧",), ("行 ， 等 通知 吧",), ("嗯 ， 好 的",))
CLOSE_RUDE = (("还有 其他 需要 吗 ？", "没 了", "行 ， 就 这样"), ("行 ， 就 这样",))

SURNAMES = "王李张刘陈杨赵黄周吴"
ROADS = ("幸福 路", "建设 路", "人民 路", "解放 路", "长江 路", "和平 街", "新华 路")

# (customer opening, [(agent, customer), ...]) per hotline and topic
TOPICS: dict[str, list[tuple[str, list[tuple[str, str]]]]] = {
    "gas": [
        (
            "喂 ， 我 家 厨房 有 一股 煤气 味 ， 是 不 是 漏气 了 ？",
            [
                (
                    "请 您 先 不要 开关 电器 ， 也 不要 用 明火 ， 马上 打开 门窗 通风",
                    "好 好 ， 窗户 已经 打开 了",
                ),
                ("请 您 关闭 燃气 表 前 的 阀门 ， 然后 到 室外 等候", "阀门 在 哪里 啊 ？"),
                (
                    "阀门 一般 在 燃气 表 的 左边 ， 把 手柄 转 到 和 管子 垂直 就 关 上 了",
                    "好 ， 我 关 了",
                ),
                (
                    "抢修 师傅 会 在 三十 分钟 内 上门 检查 ， 请 您 不要 回到 屋里",
                    "你们 快 点 来 啊 ， 我 家 有 老人",
                ),
                ("您 别 着急 ， 抢修 车 已经 出发 了", "好 ， 我 在 楼下 等"),
            ],
        ),
        (
            "我 家 燃气 灶 打 不 着 火 了 ， 是 不 是 没 气 了 ？",
            [
                ("请问 您 家 是 卡表 还是 普通 表 ？", "是 卡表"),
                ("请 您 看 一下 表 上 显示 的 余量 还有 多少", "显示 是 零"),
                ("那 可能 是 余量 用 完 了 ， 您 需要 先 充值 购气", "在 哪里 充值 ？"),
                ("您 可以 在 手机 上 缴费 ， 也 可以 到 营业厅 充值", "充 完 了 还 要 插卡 吗 ？"),
                ("充值 以后 请 把 卡 插 到 表 上 ， 听到 滴 的 一声 就 可以 了", "哦 ， 知道 了"),
                ("如果 插卡 以后 还是 没 气 ， 我们 安排 师傅 上门 检修", "好 的"),
            ],
        ),
        (
            "我们 小区 今天 怎么 停 气 了 ？ 也 没 通知",
            [
                ("您 那 边 是 因为 管道 改造 计划 停 气 ， 公告 贴 在 单元 门口", "我 没 看到 啊"),
                ("预计 今天 下午 六点 前 恢复 供气", "六点 以后 还 不 来 气 怎么 办 ？"),
                (
                    "恢复 供气 以后 请 您 先 检查 一下 灶具 阀门 是 不 是 关 好 了",
                    "好 ， 我 记 住 了",
                ),
                (
                    "您 说 的 水管 问题 归 自来水 公司 管 ， 电话 是 九六一一六",
                    "好 ， 我 问问 他们",
                ),
            ],
        ),
    ],
    "water": [
        (
            "我们 小区 从 早上 就 停水 了 ， 什么 时候 来 水 ？",
            [
                ("您 那 边 是 因为 管道 抢修 临时 停水 ， 预计 下午 五点 恢复 供水", "这么 久 啊"),
                ("抢修 完成 以后 水 可能 有点 浑 ， 请 您 先 放 一会儿 水", "好 ， 知道 了"),
                ("如果 五点 以后 还 没有 来 水 ， 请 您 再 打 过来", "行 ， 那 我 等等 看"),
            ],
        ),
        (
            "我 家 这 个月 水费 怎么 这么 多 ？ 比 平时 多 了 一倍",
            [
                ("请 您 先 把 家里 所有 水龙头 关 上 ， 看 一下 水表 还 转 不 转", "还 在 转"),
                (
                    "那 可能 是 家里 管道 有 漏水 ， 建议 您 请 师傅 检查 一下",
                    "表 会 不 会 有 问题 ？",
                ),
                ("如果 您 怀疑 水表 不 准 ， 我们 可以 安排 校验", "怎么 校验 ？"),
                ("我 帮 您 登记 校验 ， 三 个 工作日 内 有 人 联系 您", "好 的"),
            ],
        ),
    ],
    "bank": [
        (
            "我 的 银行卡 丢 了 ， 要 挂失",
            [
                ("请 您 提供 一下 身份证 号码 的 后 六位", "{digits6}"),
                ("请问 您 丢失 的 是 哪 一 张 卡 ？ 尾号 是 多少 ？", "尾号 是 {digits4}"),
                ("这 张 卡 已经 帮 您 临时 挂失 了 ， 卡 里 的 钱 不会 被 取走", "那 就 好"),
                ("请 您 七 天 内 带 身份证 到 网点 办理 正式 挂失 和 补卡", "周末 网点 开门 吗 ？"),
                ("周末 部分 网点 是 营业 的 ， 您 可以 在 手机 银行 上 查 一下", "好 ， 谢谢"),
            ],
        ),
        (
            "我 想 查 一下 上个月 的 信用卡 账单",
            [
                ("请 您 输入 一下 查询 密码", "输 好 了"),
                (
                    "您 上个月 的 账单 金额 是 三千 二百 元 ， 最后 还款 日 是 二十五 号",
                    "能 分期 吗 ？",
                ),
                ("可以 分期 ， 分 六 期 或者 十二 期 都 可以", "手续费 怎么 算 ？"),
                ("每 期 手续费 是 本金 的 百分之 零点 六", "那 我 再 想想"),
            ],
        ),
    ],
    "bus": [
        (
            "我 要 投诉 三十七 路 公交 司机 ， 到 站 不 停车",
            [
                ("请问 是 几点 在 哪个 站 ？", "早上 八点 左右 ， 在 人民 医院 站"),
                ("请问 您 记得 车牌 号 吗 ？", "车牌 没 看 清楚"),
                ("没 关系 ， 我们 可以 根据 时间 和 线路 查 到 车辆", "那 你们 一定 要 处理"),
                (
                    "我们 会 把 您 的 投诉 转 给 公交 公司 核实 处理 ， 三 个 工作日 内 给 您 回复",
                    "好 ， 我 等 你们 电话",
                ),
            ],
        ),
        (
            "我 的 包 落 在 公交车 上 了",
            [
                (
                    "请问 您 坐 的 是 几 路 车 ？ 大概 什么 时间 下 的 车 ？",
                    "十二 路 ， 中午 一点 多",
                ),
                ("请 您 描述 一下 包 的 样子 和 里面 的 东西", "黑色 的 双肩包 ， 里面 有 电脑"),
                ("我 已经 联系 车队 帮 您 找 了 ， 找到 以后 马上 通知 您", "太 谢谢 了"),
            ],
        ),
    ],
}
GENERIC = (
    ("请问 您 的 户号 是 多少 ？", "户号 是 {digits8}"),
    ("您 知道 户号 吗 ？", "我 不 太 清楚 ， 我 找 一下 缴费 单"),
    ("如果 您 不 知道 户号 ， 报 地址 也 可以", "地址 是 {address}"),
    ("请问 您 的 联系 电话 是 多少 ？", "{phone}"),
    ("请问 您 贵姓 ？", "我 姓 {surname}"),
    ("好 的 ， {surname} 先生 ， 我 跟 您 核对 一下 地址 ， {address} ， 对 吗 ？", "对 ， 没错"),
    ("请 稍 等 ， 我 帮 您 查询 一下", "好 的"),
    ("我 知道 了 ， 您 别 着急 ， 我们 会 尽快 处理 的", "那 你们 快 一点 啊"),
    ("您 的 意见 我 会 如实 反映 给 领导", "行 ， 希望 你们 重视"),
    ("晚上 下班 了 也 可以 打 这个 电话 ， 我们 二十四 小时 有人 值班", "哦 ， 那 好"),
    ("工单 已经 生成 了 ， 工单 号 是 {digits6}", "好 ， 我 记 一下"),
    ("处理 结果 出来 以后 我们 会 短信 通知 您", "好 的"),
    ("您 的 问题 我 已经 记录 下来 了 ， 请 您 保持 电话 畅通", "嗯 ， 好"),
)
HOLD = "请 稍 等 ， 我 帮 您 查 一下"
PROVOKE = (
    "你们 到底 什么 时候 能 修 好 ？",
    "我 都 打 了 三 次 电话 了 ， 怎么 还 没 人 来 ？",
    "你们 这 服务 也 太 差 了 吧",
    "那 你 说 我 现在 怎么 办 ？",
    "为什么 又 要 停 ？ 提前 也 不 通知",
)
FORBIDDEN_LINES = {
    "我不知道": ("这个 我 不 知道 ， 你 问 别人 吧", "什么 时候 好 我 不 知道 啊"),
    "这不关我的事": (
        "这 不 关 我 的 事 ， 你 找 物业 去",
        "东西 是 你们 自己 弄 坏 的 ， 这 不 关 我 的 事",
    ),
    "有意见找领导去": ("你 有 意见 找 领导 去", "我 就 这么 说 的 ， 有 意见 找 领导 去"),
    "你问我我问谁": ("你 问 我 我 问 谁 啊", "要 多久 ？ 你 问 我 我 问 谁"),
    "不行就是不行这是规定": (
        "不行 就是 不行 ， 这 是 规定",
        "跟 你 说 了 不行 就是 不行 ， 这 是 规定",
    ),
    "我也没办法": ("我 也 没 办法 ， 系统 就 这样", "公司 这么 安排 的 ， 我 也 没 办法"),
    "你自己先查清楚": ("你 自己 先 查 清楚 再 打 过来", "你 自己 先 查 清楚 了 再说"),
    "你到底想怎么样": ("你 到底 想 怎么样 啊", "都 给 你 解释 半天 了 ， 你 到底 想 怎么样"),
    "不归我们管": ("这个 不 归 我们 管", "小区 里面 的 东西 不 归 我们 管 ， 你 找 物业"),
    "我说了你也不懂": (
        "我 说 了 你 也 不 懂 ， 等 师傅 来 了 再说",
        "这个 很 复杂 ， 我 说 了 你 也 不 懂",
    ),
    "你听不懂吗": ("我 都 说 了 三 遍 了 ， 你 听 不 懂 吗", "你 听 不 懂 吗 ？ 要 先 交 费"),
    "没看我正忙着吗": ("没 看 我 正 忙 着 吗 ， 等 一下", "别 催 了 ， 没 看 我 正 忙 着 吗"),
    "着什么急": ("着 什么 急 啊 ， 排队 呢", "你 着 什么 急 ， 师傅 又 不 是 只 修 你 一 家"),
    "下班了明天再打": ("我们 下班 了 ， 明天 再 打 吧", "都 几点 了 ， 下班 了 ， 明天 再 打"),
    "不是告诉你了吗": ("不 是 告诉 你 了 吗 ， 要 先 交 费", "我 刚才 不 是 告诉 你 了 吗"),
    "听清楚了没有": ("你 听 清楚 了 没有 ？ 明天 才 能 修", "我 再 说 一遍 ， 你 听 清楚 了 没有"),
    "就是这样规定的": (
        "我们 就是 这样 规定 的 ， 没 得 商量",
        "没 什么 好 解释 的 ， 就是 这样 规定 的",
    ),
    "你去投诉吧": ("你 去 投诉 吧 ， 我 无所谓", "有 本事 你 去 投诉 吧"),
    "早干什么去了": ("现在 才 说 ， 早 干 什么 去 了", "早 干 什么 去 了 ？ 现在 才 打 电话"),
    "急什么": ("急 什么 ， 排 着 队 呢", "急 什么 急 ， 师傅 在 路上"),
    "这个我不管": ("这个 我 不 管 ， 你 找 物业", "这个 我 不 管 的"),
    "谁告诉你的找谁去": ("谁 告诉 你 的 找 谁 去", "我 没 这么 说 过 ， 谁 告诉 你 的 找 谁 去"),
    "我就这态度": ("我 就 这 态度 ， 怎么 了", "你 爱 怎么 想 怎么 想 ， 我 就 这 态度"),
    "你怎么这么啰嗦": ("你 怎么 这么 啰嗦 啊", "说 了 半天 了 ， 你 怎么 这么 啰嗦"),
    "下班了明天再来": ("营业厅 下班 了 ， 明天 再 来", "下班 了 明天 再 来 吧"),
    "电脑算的不会错": ("这 是 电脑 算 的 ， 不会 错", "账单 是 电脑 算 的 不会 错 的"),
    "你找别人吧": ("这个 你 找 别人 吧", "我 办 不 了 ， 你 找 别人 吧"),
    "快点说": ("快 点 说 ， 后面 还有 人 排队", "有 什么 事 快 点 说"),
    "有完没完": ("你 有 完 没 完 啊", "同 一个 问题 问 三 遍 了 ， 有 完 没 完"),
    "这个我管不了": ("这个 我 管 不 了", "你 说 的 这个 我 管 不 了 ， 你 打 别的 电话"),
    "爱找谁找谁": ("你 爱 找 谁 找 谁", "反正 我 解决 不 了 ， 你 爱 找 谁 找 谁 去"),
    "你怎么什么都不懂": ("你 怎么 什么 都 不 懂 啊", "这 都 要 问 ， 你 怎么 什么 都 不 懂"),
    "这是你自己的问题": (
        "这 是 你 自己 的 问题 ， 跟 我们 没 关系",
        "管道 是 你 家 的 ， 这 是 你 自己 的 问题",
    ),
    "跟我说也没用": ("跟 我 说 也 没 用", "你 跟 我 说 也 没 用 ， 我 又 管 不 着"),
    "不清楚": ("这个 我 不 清楚 ， 你 问 别人", "不 清楚 ， 没 通知 我们"),
    "没有办法": ("没有 办法 ， 就 这样", "我们 也 没有 办法 ， 你 等 着 吧"),
    "自己看": ("单子 上 都 写 着 ， 自己 看", "自己 看 短信 去"),
    "打错了": ("打 错 了 ， 这里 不 管 这个", "你 打 错 了 ， 挂 了"),
}
# agent lines that come close to a 忌语 but mean something else: no 忌语 said
AGENT_NEAR_MISS = (
    "我 知道 了 ， 马上 给 您 登记",
    "如果 您 不 清楚 户号 ， 报 地址 也 可以",
    "您 可以 自己 看 一下 表 上 的 读数",
    "您 是不是 打错 了 ？ 这里 是 燃气 客服 热线",
    "如果 对 处理 结果 不 满意 ， 您 可以 去 投诉",
    "不 着急 ， 您 慢慢 说",
    "您 慢 点 说 ， 我 记 一下",
    "这个 问题 归 我们 管 ， 您 放心",
    "我们 有 办法 解决 ， 您 放心",
    "您 说 的 我 都 听 清楚 了",
    "晚上 下班 了 明天 也 可以 打 这个 电话",
    "我 已经 告诉 师傅 了 ， 他 马上 到",
    "账单 如果 有 疑问 ， 我们 帮 您 核对",
    "您 找 我 就 行 ， 不用 找 别人",
)
# a customer who talks on: the agent cuts in (抢话) or only says 嗯 over it (no 抢话)
LONG_CUSTOMER = (
    "我 跟 你 说 ， 我 家 那个 表 上个月 还 好好 的 ， 这个月 突然 就 不 走 了 ， "
    "你们 是 不 是 搞 错 了",
    "我 今天 早上 八点 就 打 过 电话 了 ， 当时 说 两 个 小时 内 来 人 ， "
    "到 现在 都 中午 了 还 没 人",
    "我们 楼 里 好几 家 都 这样 ， 物业 说 找 你们 ， 你们 又 说 找 物业 ， 到底 谁 管",
    "上次 来 修 的 师傅 说 是 管子 老化 了 ， 要 换 ， 可是 换 了 以后 还是 有 味道",
)
CUT_IN = (
    "您 先 听 我 说 ， 这个 情况 我们 会 处理",
    "好 好 ， 我 明白 ， 我 先 给 您 登记 一下",
    "这个 我 知道 ， 我 马上 帮 您 查",
)
BACKCHANNEL = ("嗯", "好 的", "对", "嗯 嗯")
ABUSIVE_LINES = (
    "神经病 ， 还 骂 人",
    "你 有病 吧 ， 说 了 多少 遍 了",
    "滚 ， 别 再 打 过来 了",
    "你 脑子 有病 啊",
    "你 怎么 不 去 死",
)
SCALDING = ("热水器 出来 的 水 是 不 是 滚烫 的 ？", "不 是 ， 一点 都 不 热")  # 滚烫 is no insult
TOLERATED_LINE = ("我 也 没 办法 马上 到 ， 师傅 半 小时 内 到", "你们 能 不 能 马上 过来 ？")
CUSTOMER_NEAR_MISS = (
    "户号 我 不 知道 啊 ， 我 是 租 的 房子",
    "我 也 没 办法 ， 白天 家里 没 人",
    "你 问 我 我 问 谁 啊 ， 我 又 不 懂",
    "你们 这 是 有病 吧 ， 天天 停",
    "神经病 ， 又 停 了",
)
# an impolite agent's words: never 请 / 您 / 再见
RUDE_WORDS = {"您好": "你好", "您": "你", "请问": "", "请": "", "再见": "拜拜"}


@dataclass(frozen=True, slots=True)
class Occurrence:
    phrase: str
    start: float  # true times of the phrase's first and last characters
    end: float


@dataclass(frozen=True, slots=True)
class Labels:
    fires: frozenset[str]  # rule ids a perfect scorer reports for this call
    forbidden: tuple[Occurrence, ...]  # agent 忌语, one per occurrence
    abusive: tuple[Occurrence, ...]
    tolerated: tuple[Occurrence, ...]  # literal phrase said innocently: a hit is not judged
    politeness_missing: tuple[str, ...]  # of 请 / 您 / 再见
    agent_rate: float  # true characters per minute of agent utterance time
    silences: tuple[tuple[float, float], ...]  # true gaps > 15 s
    cases: tuple[str, ...]  # what was staged, e.g. "greeting:none", "customer_forbidden"
    interrupts: int = 0  # agent utterances cutting in on the customer (抢话)


@dataclass(frozen=True, slots=True)
class TrueUtterance:
    channel: str
    text: str  # what was said, without punctuation
    start: float
    end: float
    char_times: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Call:
    data: dict[str, Any]  # the scoring JSON
    labels: Labels
    truth: tuple[TrueUtterance, ...]  # index-aligned with the ASR utterances, both channels

    @property
    def call_id(self) -> str:
        return str(self.data["call_id"])


# --- speech -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Turn:
    channel: str
    words: list[str]  # words and punctuation
    tolerated: bool = False
    rate: float | None = None  # the speaker's own unless set


def _said(text: str) -> list[str]:
    return text.split()


def _timed(
    turn: _Turn, start: float, rate: float
) -> tuple[TrueUtterance, list[list[tuple[float, float]]]]:
    """Place every character: the utterance lasts chars * 60 / rate seconds, pauses at
    punctuation inside it, so chars / (end - start) is exactly the speaker's rate."""
    words = [w for w in turn.words if w not in PUNCT]
    chars = sum(len(w) for w in words)
    pauses = sum(1 for w in turn.words[:-1] if w in PUNCT)
    unit = chars * 60.0 / rate / (chars + 1.5 * pauses)
    t = start
    times: list[list[tuple[float, float]]] = []
    for w in turn.words:
        if w in PUNCT:
            if times:
                t += 1.5 * unit
            continue
        spans = []
        for _ in w:
            spans.append((t, t + unit))
            t += unit
        times.append(spans)
    flat = tuple(s for w in times for s in w)
    utt = TrueUtterance(turn.channel, "".join(words), start, flat[-1][1], flat)
    return utt, times


def _digits(rng: random.Random, digits: str) -> str:
    """A number read digit by digit the way agents read it (幺 for 1, sometimes 两 for 2),
    grouped into words as the recognizer's lexicon happens to."""
    read = []
    for d in digits:
        if d == "1":
            read.append("幺" if rng.random() < 0.65 else "一")
        elif d == "2":
            read.append("两" if rng.random() < 0.3 else "二")
        else:
            read.append(DIGITS[int(d)])
    out, i = [], 0
    while i < len(read):
        k = rng.choice((1, 2, 2, 4))
        out.append("".join(read[i : i + k]))
        i += k
    return " ".join(out)


def _agent_number(rng: random.Random) -> str:
    while True:
        n = f"{rng.randint(1000, 9999)}"
        if len(set(n)) > 1:
            return n


def _other_number(rng: random.Random, number: str) -> str:
    if rng.random() < 0.5:  # a colleague's number: one or two digits off
        chars = list(number)
        for i in rng.sample(range(4), rng.choice((1, 2))):
            chars[i] = rng.choice([d for d in "0123456789" if d != chars[i]])
        return "".join(chars)
    other = _agent_number(rng)
    return other if other != number else _other_number(rng, number)


@dataclass(slots=True)
class _Plan:
    greeting: str
    closing: str
    rate_kind: str
    rate: float
    rude: bool
    forbidden: int
    abusive: int
    dead_air: bool
    late: bool
    customer_forbidden: bool
    tolerated: bool
    number: str | None
    interrupts: int = 0  # the agent cuts in on the customer (抢话)
    backchannels: int = 0  # the agent only says 嗯 over the customer (no 抢话)
    near_misses: int = 0  # agent lines close to a 忌语 that mean something else
    cut_goodbye: bool = False  # the recogniser cuts the agent's last word (再见 -> 再)
    cases: list[str] = field(default_factory=list)


def _plan(rng: random.Random) -> _Plan:
    rude = rng.random() < 0.08
    greeting = rng.choices(
        ("model", "none", "no_number", "wrong_number", "one_part"), (55, 13, 12, 10, 10)
    )[0]
    closing = rng.choices(
        ("full", "check", "bye", "none", "check_then_more"), (50, 12, 12, 14, 12)
    )[0]
    if rude:
        greeting = rng.choice(("rude", "none"))
        closing = rng.choice(("rude", "none"))
    rate_kind = rng.choices(("normal", "fast", "slow"), (76, 12, 12))[0]
    rate = {"normal": (100, 135), "fast": (200, 260), "slow": (52, 65)}[rate_kind]
    forbidden = rng.choice((1, 1, 2, 3)) if rng.random() < 0.33 else 0
    plan = _Plan(
        greeting=greeting,
        closing=closing,
        rate_kind=rate_kind,
        rate=rng.uniform(*rate),
        rude=rude,
        forbidden=forbidden,
        abusive=rng.choice((1, 1, 2)) if rng.random() < 0.08 else 0,
        dead_air=rng.random() < 0.12,
        late=rng.random() < 0.2,
        customer_forbidden=rng.random() < 0.15,
        tolerated=rng.random() < 0.08,
        number=None if rng.random() < 0.06 else _agent_number(rng),
        interrupts=rng.choices((0, 1, 2, 3), (72, 12, 10, 6))[0],
        backchannels=rng.choices((0, 1, 2), (75, 15, 10))[0],
        near_misses=rng.choices((0, 1, 2), (60, 25, 15))[0],
        cut_goodbye=rng.random() < 0.08,
    )
    plan.cases += [f"greeting:{greeting}", f"closing:{closing}", f"rate:{rate_kind}"]
    flags = {
        "rude_agent": rude,
        "forbidden": forbidden,
        "abusive": plan.abusive,
        "dead_air": plan.dead_air,
        "late_answer": plan.late,
        "customer_forbidden": plan.customer_forbidden,
        "tolerated": plan.tolerated,
        "no_agent_number": plan.number is None,
        "backchannel": plan.backchannels,
        "agent_near_miss": plan.near_misses,
        "cut_goodbye": plan.cut_goodbye,
    }
    plan.cases += [k for k, v in flags.items() if v]
    if plan.interrupts:
        plan.cases.append(f"interrupts:{plan.interrupts}")
    return plan


def _script(rng: random.Random, plan: _Plan, hotline: str) -> tuple[list[_Block], _Speakers]:
    """The greeting, the topic and the staged moments as blocks of turns, in order."""
    number = plan.number or _agent_number(rng)
    slots = {
        "surname": rng.choice(SURNAMES),
        "address": f"{rng.choice(ROADS)} {_digits(rng, str(rng.randint(1, 399)))} 号",
        "phone": _digits(rng, f"1{rng.choice('3589')}{rng.randint(0, 999999999):09d}"),
        "digits4": _digits(rng, f"{rng.randint(0, 9999):04d}"),
        "digits6": _digits(rng, f"{rng.randint(0, 999999):06d}"),
        "digits8": _digits(rng, f"{rng.randint(0, 99999999):08d}"),
    }
    say = _Speakers(rng, plan.rude, slots)
    said = _other_number(rng, number) if plan.greeting == "wrong_number" else number
    greet = {
        "model": GREET_MODEL,
        "no_number": GREET_NO_NUMBER,
        "wrong_number": GREET_MODEL,
        "none": GREET_NONE,
        "one_part": GREET_ONE_PART,
        "rude": GREET_RUDE,
    }[plan.greeting]
    greeting = _Turn("agent", _said(rng.choice(greet).replace("{num}", _digits(rng, said))))
    greeting.rate = max(plan.rate, 100.0)  # a drilled script: even a slow agent reels it off
    opening, exchanges = rng.choice(TOPICS[hotline])
    body = [_Block([say.agent(a), say.customer(c)]) for a, c in exchanges]
    pool = list(GENERIC)
    rng.shuffle(pool)
    for a, c in pool:
        turns: list[_Turn | float] = [say.agent(a), say.customer(c)]
        if a.startswith("请 稍 等"):
            turns.insert(1, rng.uniform(3.0, 7.5))  # a hold: quiet on both channels, < 8 s
        body.append(_Block(turns))
    staged: list[_Block] = []
    phrases = rng.sample(sorted(FORBIDDEN_LINES), plan.forbidden)
    if len(phrases) >= 2 and rng.random() < 0.3:  # two 忌语 in one breath
        both = " ， ".join(rng.choice(FORBIDDEN_LINES[p]) for p in phrases[:2])
        staged.append(_Block([say.customer(rng.choice(PROVOKE)), say.agent(both)], True))
        phrases = phrases[2:]
        plan.cases.append("two_forbidden_in_one_utterance")
    for p in phrases:
        line = rng.choice(FORBIDDEN_LINES[p])
        staged.append(_Block([say.customer(rng.choice(PROVOKE)), say.agent(line)], True))
    for line in rng.sample(ABUSIVE_LINES, plan.abusive):
        staged.append(_Block([say.customer(rng.choice(PROVOKE)), say.agent(line)], True))
    if plan.customer_forbidden:
        line = rng.choice(CUSTOMER_NEAR_MISS)
        staged.append(_Block([say.customer(line), say.agent("好 的 ， 我 明白 了")], True))
    if plan.tolerated:
        tolerated = say.agent(TOLERATED_LINE[0])
        tolerated.tolerated = True
        staged.append(_Block([say.customer(TOLERATED_LINE[1]), tolerated], True))
    for line in rng.sample(AGENT_NEAR_MISS, plan.near_misses):
        staged.append(_Block([say.customer(rng.choice(PROVOKE)), say.agent(line)], True))
    for _ in range(plan.interrupts):  # cut in 1.8–3 s before the customer is done
        turns: list[_Turn | float] = [
            say.customer(rng.choice(LONG_CUSTOMER)),
            -rng.uniform(1.8, 3.0),
            say.agent(rng.choice(CUT_IN)),
        ]
        staged.append(_Block(turns, True))
    for _ in range(plan.backchannels):  # 嗯 in the middle of the customer's turn
        turns = [
            say.customer(rng.choice(LONG_CUSTOMER)),
            -rng.uniform(3.0, 5.0),
            _Turn("agent", _said(rng.choice(BACKCHANNEL)), rate=150.0),  # a quick 嗯
            say.agent("好 的 ， 我 帮 您 看 一下"),
        ]
        staged.append(_Block(turns, True))
    if hotline == "gas" and rng.random() < 0.06:
        staged.append(_Block([say.agent(SCALDING[0]), say.customer(SCALDING[1])], True))
        plan.cases.append("scalding")
    if plan.dead_air:
        gap = rng.uniform(20.0, 40.0)
        staged.append(_Block([say.agent(HOLD), gap, say.customer("喂 ？ 还 在 吗 ？")], True))
    for s in staged:  # spread over the call's first part, after the topic opens
        body.insert(rng.randint(1, max(1, min(len(body), 8))), s)
    return [_Block([greeting, say.customer(opening)], True), *body], say


@dataclass(slots=True)
class _Block:
    turns: list[_Turn | float]  # a float is a gap of that many seconds on both channels
    required: bool = False  # staged: always said, however long the call already is


class _Speakers:
    def __init__(self, rng: random.Random, rude: bool, slots: dict[str, str]) -> None:
        self.rng, self.rude, self.slots = rng, rude, slots

    def agent(self, text: str) -> _Turn:
        words = _said(_fill(text, self.slots))
        if self.rude:
            words = [w for w in (RUDE_WORDS.get(w, w) for w in words) if w]
        return _Turn("agent", words)

    def customer(self, text: str) -> _Turn:
        return _Turn("customer", _said(_fill(text, self.slots)))


def _fill(text: str, slots: dict[str, str]) -> str:
    for key, value in slots.items():
        text = text.replace("{" + key + "}", value)
    return text


class _Layout:
    """Turns placed on the clock one after another."""

    def __init__(self, rng: random.Random, agent_rate: float, customer_rate: float) -> None:
        self.rng = rng
        self.rates = {"agent": agent_rate, "customer": customer_rate}
        self.utts: list[TrueUtterance] = []
        self.words: list[list[str]] = []
        self.times: list[list[list[tuple[float, float]]]] = []
        self.tolerated: list[int] = []  # indexes into utts
        self.end = 0.0
        self.gap: float | None = rng.uniform(0.3, 2.0)

    def place(self, block: _Block) -> None:
        for item in block.turns:
            if isinstance(item, float):
                self.gap = item
                continue
            # a negative gap: this turn starts before the last one ends (talking over it)
            start = self.end + (self.gap if self.gap is not None else self.rng.uniform(0.3, 2.0))
            self.gap = None
            utt, times = _timed(item, start, item.rate or self.rates[item.channel])
            if item.tolerated:
                self.tolerated.append(len(self.utts))
            self.utts.append(utt)
            self.times.append(times)
            self.words.append([w for w in item.words if w not in PUNCT])
            self.end = max(self.end, utt.end)


def _lay_out(rng: random.Random, plan: _Plan, blocks: list[_Block], say: _Speakers) -> _Layout:
    lay = _Layout(rng, plan.rate, rng.uniform(150, 260))
    target = rng.uniform(185, 265) - (50 if plan.closing == "check_then_more" else 0)
    spare = [b for b in blocks if not b.required]
    for b in blocks:
        if b.required or (lay.end < target and len(lay.utts) < 46):
            lay.place(b)
    while lay.end < target and len(lay.utts) < 46:  # a long call: some things asked again
        lay.place(rng.choice(spare))
    kinds = {
        "full": CLOSE_FULL,
        "check": CLOSE_CHECK,
        "bye": CLOSE_BYE,
        "none": CLOSE_NONE,
        "check_then_more": CLOSE_CHECK,
        "rude": CLOSE_RUDE,
    }
    lines = rng.choice(kinds[plan.closing])
    if plan.closing == "check_then_more":  # the check, then >= 45 s more talk, no closing
        lay.place(_Block([say.agent(lines[0]), say.customer("哦 对 了 ， 还有 个 事")]))
        check_end = lay.utts[-2].end
        while lay.end < check_end + 45:
            lay.place(rng.choice(spare))
        lay.place(_Block([say.agent("好 的 ， 我 给 您 登记 了")]))
        return lay
    turns: list[_Turn | float] = [
        (say.agent if i % 2 == 0 else say.customer)(line) for i, line in enumerate(lines)
    ]
    lay.place(_Block(turns))
    return lay


# --- labels from the true speech ----------------------------------------------------------


def _occurrences(
    utts: list[TrueUtterance], phrases: tuple[str, ...]
) -> list[tuple[int, Occurrence]]:
    out = []
    for i, u in enumerate(utts):
        spans: list[tuple[int, int, str]] = []
        for p in phrases:
            k = u.text.find(p)
            while k >= 0:
                if not innocent(u.text, k, p):
                    spans.append((k, k + len(p), p))
                k = u.text.find(p, k + 1)
        merged: list[tuple[int, int, str]] = []
        for s in sorted(spans):  # 脑子有病 and 有病吧 over the same words are one insult
            if merged and s[0] < merged[-1][1]:
                a, b, p = merged[-1]
                merged[-1] = (a, max(b, s[1]), p)
            else:
                merged.append(s)
        for a, b, p in merged:
            out.append((i, Occurrence(p, u.char_times[a][0], u.char_times[b - 1][1])))
    return out


def innocent(text: str, at: int, phrase: str) -> bool:
    """The phrase found at `at` of `text` lies inside words that mean something else."""
    for words in INNOCENT.get(phrase, ()):
        i = words.find(phrase)
        if text[at - i : at - i + len(words)].replace("你", "您") == words:  # a rude agent's 你
            return True
    return False


def interruption_count(utts: list[TrueUtterance]) -> int:
    """Agent utterances begun while the customer was talking, both going on for more than
    the tolerance: the 抢话 a listener hears."""
    agent = [u for u in utts if u.channel == "agent"]
    customer = [u for u in utts if u.channel == "customer"]
    return sum(
        any(
            c.start < a.start < c.end and min(a.end, c.end) - a.start > INTERRUPT_TOLERANCE_S
            for c in customer
        )
        for a in agent
    )


_DIGIT_OF = {c: str(i) for i, c in enumerate(DIGITS)} | {"幺": "1", "两": "2"}


def spoken_digits(text: str) -> str:
    """Digits read out in `text`, runs separated by '|': '我是八零幺两号' -> '|8012|'."""
    return "".join(_DIGIT_OF.get(c, "|") for c in text)


def _labels(plan: _Plan, lay: _Layout) -> Labels:
    agent = [(i, u) for i, u in enumerate(lay.utts) if u.channel == "agent"]
    utts = [u for _, u in agent]
    fires = set()
    opening = "".join(u.text for u in utts if u.start < 15.0)
    parts = (
        any(s in opening for s in SALUTATIONS)
        + (ORG in opening)
        + any(h in opening for h in HELP_OFFERS)
    )
    if parts < 2:
        fires.add("greeting_missing")
    if plan.number is not None and plan.number not in spoken_digits(opening):
        fires.add("greeting_agent_number")
    last = utts[-1].end
    ending = "".join(u.text for u in utts if u.end >= last - 30.0)
    if "再见" not in ending and not any(c in ending for c in CHECKS):
        fires.add("closing_missing")
    tolerated_utts = {k for k, (i, _) in enumerate(agent) if i in lay.tolerated}
    forbidden: list[Occurrence] = []
    tolerated: list[Occurrence] = []
    for k, occ in _occurrences(utts, FORBIDDEN):
        (tolerated if k in tolerated_utts else forbidden).append(occ)
    abusive = [occ for _, occ in _occurrences(utts, ABUSIVE)]
    if forbidden:
        fires.add("forbidden_phrase")
    if abusive:
        fires.add("abusive_language")
    said = "".join(u.text for u in utts)
    missing = tuple(p for p in POLITE_ITEMS if p not in said)
    if missing:
        fires.add("politeness")
    speaking = sum(u.end - u.start for u in utts)
    rate = len(said) * 60.0 / speaking
    if speaking >= 10.0 and rate > 150.0:
        fires.add("speech_rate_fast")
    if speaking >= 10.0 and rate < 90.0:
        fires.add("speech_rate_slow")
    interrupts = interruption_count(lay.utts)
    if interrupts > INTERRUPTS_ALLOWED:
        fires.add("interruption")
    silences = []
    spans = sorted((u.start, u.end) for u in lay.utts)
    reach = spans[0][1]
    for s, e in spans[1:]:
        if s - reach > 15.0:
            silences.append((reach, s))
        reach = max(reach, e)
    if silences:
        fires.add("silence_long")
    if plan.late:
        fires.add("answer_late")
    return Labels(
        fires=frozenset(fires),
        forbidden=tuple(forbidden),
        abusive=tuple(abusive),
        tolerated=tuple(tolerated),
        politeness_missing=missing,
        agent_rate=rate,
        silences=tuple(silences),
        cases=tuple(plan.cases),
        interrupts=interrupts,
    )


# --- the recognizer's errors ------------------------------------------------------------------

# whole words a Chinese ASR language model is known to swap for a same-sounding one
WORD_SWAPS = {
    "您好": ("你好",),
    "再见": ("在见", "再建"),
    "请问": ("清问", "情问"),
    "知道": ("指导", "只道"),
    "办法": ("半法", "版法"),
    "燃气": ("然气", "燃器"),
    "客服": ("客户",),
    "户号": ("护号", "互好"),
    "师傅": ("师父", "是否"),
    "规定": ("归定",),
    "领导": ("领到",),
    "清楚": ("青出",),
    "问题": ("文体", "问提"),
    "其他": ("其它",),
    "怎么样": ("怎么养",),
}
# a character's usual confusions, tried first when that character is misheard
CHAR_SWAPS = {
    "您": "你你你你拧",
    "再": "在在载",
    "请": "清情轻",
    "幺": "要要腰妖",
    "两": "亮俩凉",
    "零": "灵玲林",
    "一": "以衣医",
    "二": "而儿",
    "四": "是十",
    "十": "是四石",
    "七": "期其",
    "九": "就久酒",
    "气": "器起汽",
    "号": "好浩",
    "见": "件建",
    "道": "到倒导",
    "知": "之只指",
    "谁": "水睡",
    "事": "是市试",
    "没": "美每",
    "懂": "动洞",
    "滚": "棍衮",
    "病": "并兵",
    "管": "馆关",
}
FILLERS = "的了啊呢嗯一是那个这就"
# How a character class is misheard: its share of the utterance's error rate, then the
# cumulative shares of homophone, near-homophone, any other character, dropped (the rest
# are insertions). Digits are a small, well-trained vocabulary: fewer errors, mostly
# homophones (幺 -> 要); particles are short and unstressed: often dropped.
DIGIT_CHARS = frozenset("零一二三四五六七八九十幺两")
PARTICLES = frozenset("的了吗呢啊吧嗯呀么")
PROFILES = {
    "digit": (0.5, (0.80, 0.90, 0.90, 1.0)),
    "particle": (1.5, (0.35, 0.40, 0.40, 0.85)),
    "word": (1.0, (0.50, 0.65, 0.70, 0.88)),
}
# about 900 everyday characters: a recognizer's language model picks these far more often
FREQUENT = (
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过"
    "家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所"
    "本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全"
    "工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教"
    "西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性"
    "通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲"
    "界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认"
    "算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红"
    "治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写"
    "呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首"
    "单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坐集编宝谈府拉黑且随格"
    "尽讲布杀微怕母调局根曾准团段终乐切级克精哪官示冷域病医器热费查修漏停户号客服燃卡充值"
    "余额缴供暖账银挂补投诉司机线站台包丢找钥匙楼栋单元区街道电话码联系通知短信核对登记处理"
)
NEAR = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"), ("f", "h"), ("r", "l"))
NEAR_FINALS = (("ang", "an"), ("eng", "en"), ("ing", "in"), ("iang", "ian"), ("uang", "uan"))
TRAD_SHARE = 0.12  # calls transcribed by a traditional-script model
_CER_SCALE = 1.02  # error events per character per unit of target CER (measured)


_BURST = (1.2, 1 / 1.2)  # per-utterance error rate: gamma, mean 1 (errors come in bursts)
_WORST = 0.6  # no utterance is worse than this


@lru_cache(maxsize=64)
def _burst_scale(cer: float) -> float:
    """The scale s with E[min(_WORST, s * X)] = cer * _CER_SCALE, X ~ gamma(_BURST)."""
    draw = random.Random(0)
    sample = [draw.gammavariate(*_BURST) for _ in range(4000)]
    want, lo, hi = cer * _CER_SCALE, 0.0, 10.0
    for _ in range(40):
        mid = (lo + hi) / 2
        if sum(min(_WORST, mid * x) for x in sample) / len(sample) < want:
            lo = mid
        else:
            hi = mid
    return lo


@lru_cache(maxsize=1)
def _syllables() -> tuple[dict[str, str], dict[str, str]]:
    """Common characters (GB2312 level 1) by toneless syllable, and each one's syllable."""
    by_syllable: dict[str, str] = {}
    reading: dict[str, str] = {}
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            try:
                c = bytes((hi, lo)).decode("gb2312")
            except UnicodeDecodeError:
                continue
            syl = lazy_pinyin(c, style=Style.NORMAL)[0]
            reading[c] = syl
            by_syllable[syl] = by_syllable.get(syl, "") + c
    return by_syllable, reading


@lru_cache(maxsize=4096)
def _readings(word: str) -> tuple[str, ...]:
    return tuple(lazy_pinyin(word, style=Style.NORMAL))


@lru_cache(maxsize=2)
def _opencc(config: str) -> OpenCC:
    return OpenCC(config)


class _Asr:
    """One recognizer for one call: what Vosk would return for each true utterance."""

    def __init__(self, rng: random.Random, cer: float, traditional: bool) -> None:
        self.rng, self.cer, self.traditional = rng, cer, traditional
        self.by_syllable, self.reading = _syllables()
        self.frequent = frozenset(FREQUENT)

    def _homophone(self, c: str, syl: str) -> str:
        swaps = CHAR_SWAPS.get(c)
        if swaps and self.rng.random() < 0.7:
            return self.rng.choice(swaps)
        return self._pick(self.by_syllable.get(syl, "").replace(c, "")) or self._near(c, syl)

    def _pick(self, chars: str) -> str:
        """One of `chars`, an everyday one nine times in ten when there is one."""
        frequent = [c for c in chars if c in self.frequent]
        if frequent and self.rng.random() < 0.9:
            return self.rng.choice(frequent)
        return self.rng.choice(chars) if chars else ""

    def _near(self, c: str, syl: str) -> str:
        options = []
        for a, b in NEAR:
            for x, y in ((a, b), (b, a)):
                if syl.startswith(x) and not (len(x) == 1 and syl[1:2] == "h"):  # s vs sh
                    options.append(y + syl[len(x) :])
        for a, b in NEAR_FINALS:
            for x, y in ((a, b), (b, a)):
                if syl.endswith(x):
                    options.append(syl[: -len(x)] + y)
        chars = "".join(self.by_syllable.get(o, "") for o in options)
        return self._pick(chars) or self.rng.choice(FREQUENT)

    def recognize(self, words: list[str], times: list[list[tuple[float, float]]]) -> dict[str, Any]:
        rng = self.rng
        p = min(_WORST, _burst_scale(self.cer) * rng.gammavariate(*_BURST))
        out: list[tuple[str, float, float, bool]] = []  # word, start, end, corrupted
        for w, spans in zip(words, times, strict=True):
            if w in WORD_SWAPS and rng.random() < p * 1.2:
                out.append((rng.choice(WORD_SWAPS[w]), spans[0][0], spans[-1][1], True))
                continue
            syls = _readings(w) if len(_readings(w)) == len(w) else tuple(w)
            chars: list[tuple[str, float, float]] = []
            bad = False
            for c, syl, (s, e) in zip(w, syls, spans, strict=True):
                share, (homophone, near, other, drop) = PROFILES[
                    "digit" if c in DIGIT_CHARS else "particle" if c in PARTICLES else "word"
                ]
                if rng.random() >= p * share:
                    chars.append((c, s, e))
                    continue
                bad = True
                kind = rng.random()
                if kind < homophone:
                    chars.append((self._homophone(c, syl), s, e))
                elif kind < near:
                    chars.append((self._near(c, syl), s, e))
                elif kind < other:
                    chars.append((rng.choice(FREQUENT), s, e))
                elif kind < drop:
                    continue
                else:
                    mid = (s + e) / 2
                    extra = rng.choice(FILLERS) if rng.random() < 0.6 else self._homophone(c, syl)
                    chars += [(c, s, mid), (extra, mid, e)]
            if chars:
                out.append(("".join(c for c, _, _ in chars), chars[0][1], chars[-1][2], bad))
        if not out:  # the recognizer heard something: keep the first word
            out.append((words[0], times[0][0][0], times[0][-1][1], False))
        out = self._resegment(out)
        if self.traditional:
            converted = _opencc("s2t").convert(" ".join(w for w, _, _, _ in out)).split(" ")
            if len(converted) == len(out):
                out = [(t, s, e, b) for t, (_, s, e, b) in zip(converted, out, strict=True)]
        result: list[dict[str, Any]] = []
        for w, s, e, bad in out:
            if bad:
                conf = rng.uniform(0.85, 1.0) if rng.random() < 0.2 else rng.uniform(0.3, 0.85)
            else:
                conf = rng.uniform(0.45, 0.85) if rng.random() < 0.1 else rng.uniform(0.85, 1.0)
            result.append(
                {"word": w, "start": round(s, 3), "end": round(e, 3), "conf": round(conf, 6)}
            )
        return {"text": " ".join(w for w, _, _, _ in out), "result": result}

    def _resegment(
        self, words: list[tuple[str, float, float, bool]]
    ) -> list[tuple[str, float, float, bool]]:
        """The recognizer's lexicon cuts words differently: some merged, some split."""
        out: list[tuple[str, float, float, bool]] = []
        for w, s, e, bad in words:
            r = self.rng.random()
            if out and r < 0.06 and len(out[-1][0]) + len(w) <= 4:
                pw, ps, _, pb = out.pop()
                out.append((pw + w, ps, e, pb or bad))
            elif r > 0.94 and len(w) >= 2:
                k = self.rng.randint(1, len(w) - 1)
                m = s + (e - s) * k / len(w)
                out += [(w[:k], s, m, bad), (w[k:], m, e, bad)]
            else:
                out.append((w, s, e, bad))
        return out


# --- calls ------------------------------------------------------------------------------------


def make_call(seed: int, index: int = 0, cer: float = 0.25, hotline: str | None = None) -> Call:
    """One call, the same for the same (seed, index, cer, hotline)."""
    rng = random.Random(f"{seed}/{index}")
    plan = _plan(rng)
    hotline = hotline or rng.choices(tuple(TOPICS), (55, 15, 15, 15))[0]
    blocks, say = _script(rng, plan, hotline)
    lay = _lay_out(rng, plan, blocks, say)
    labels = _labels(plan, lay)
    asr = _Asr(rng, cer, traditional=rng.random() < TRAD_SHARE)
    channels: dict[str, list[dict[str, Any]]] = {"agent": [], "customer": []}
    for utt, words, times in zip(lay.utts, lay.words, lay.times, strict=True):
        channels[utt.channel].append(asr.recognize(words, times))
    if plan.cut_goodbye:  # the channel ends mid-word: only the first character is heard
        last = channels["agent"][-1]["result"][-1]
        if len(last["word"]) >= 2:
            last["end"] = round(
                last["start"] + (last["end"] - last["start"]) / len(last["word"]), 3
            )
            last["word"] = last["word"][0]
            words_ = channels["agent"][-1]["result"]
            channels["agent"][-1]["text"] = " ".join(w["word"] for w in words_)
    if asr.traditional:
        labels = replace(labels, cases=(*labels.cases, "traditional_model"))
    data = {
        "call_id": f"corpus-{seed}-{index:05d}",
        "agent_number": plan.number,
        "ring_seconds": round(rng.uniform(17, 45) if plan.late else rng.uniform(1, 12), 1),
        "channels": channels,
    }
    return Call(data, labels, tuple(lay.utts))


def heard(words: list[str], seed: str, cer: float, rate: float = 120.0) -> dict[str, Any]:
    """One agent line (its words) said from 10 s at `rate` characters a minute, as this
    module's recogniser returns it (a Vosk result), the same for the same seed."""
    _, times = _timed(_Turn("agent", words), 10.0, rate)
    return _Asr(random.Random(seed), cer, traditional=False).recognize(words, times)


def generate(n: int, seed: int = 20240601, cer: float = 0.25) -> list[Call]:
    """`n` calls of 3–5 minutes over the gas, water, bank and bus hotlines."""
    return [make_call(seed, i, cer) for i in range(n)]


def char_errors(a: str, b: str) -> int:
    """Levenshtein distance between two strings of characters."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def measured_cer(call: Call) -> float:
    """Character errors of the normalized ASR text against what was said, over the call."""
    from hotline.asr.transcript import normalize

    asr = [*call.data["channels"]["agent"], *call.data["channels"]["customer"]]
    truth = [u for u in call.truth if u.channel == "agent"]
    truth += [u for u in call.truth if u.channel == "customer"]
    errors = sum(char_errors(t.text, normalize(a["text"])) for t, a in zip(truth, asr, strict=True))
    return errors / max(1, sum(len(t.text) for t in truth))

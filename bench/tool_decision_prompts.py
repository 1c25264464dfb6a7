"""The prompts of bench/tool_decisions.py: 100 where an offered tool plainly applies and
100 where none does, generated from templates with a fixed seed over a pool of tools.

A "call" case offers the tool that applies plus 0-2 others; a "none" case offers 1-3 tools
and asks for chit-chat, general knowledge, writing or advice. Some "none" prompts share
words with an offered tool ("a poem about the rain" with get_weather), so a keyword
lookup would fail them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

SEED = 20


def _fn(name: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function",
        "name": name,
        "description": description,
        "parameters": {
            "type": "object",
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        },
        "strict": True,
    }


_STR = {"type": "string"}
_NUM = {"type": "number"}
TOOLS: dict[str, dict[str, Any]] = {
    "get_weather": _fn(
        "get_weather", "Get the current weather for a location.", {"location": _STR}
    ),
    "add": _fn("add", "Add two numbers and return the sum.", {"a": _NUM, "b": _NUM}),
    "calculator": _fn("calculator", "Evaluate an arithmetic expression.", {"expression": _STR}),
    "web_search": _fn("web_search", "Search the web for recent information.", {"query": _STR}),
    "create_event": _fn(
        "create_event",
        "Create an event in the user's calendar.",
        {"title": _STR, "date": _STR, "time": _STR},
    ),
    "send_email": _fn("send_email", "Send an email.", {"to": _STR, "subject": _STR, "body": _STR}),
    "read_file": _fn("read_file", "Read a file from the user's workspace.", {"path": _STR}),
    "get_stock_price": _fn("get_stock_price", "Get the latest price of a stock.", {"symbol": _STR}),
    "convert_currency": _fn(
        "convert_currency",
        "Convert an amount of money between currencies.",
        {"amount": _NUM, "source": _STR, "target": _STR},
    ),
    "set_timer": _fn("set_timer", "Start a countdown timer.", {"minutes": _NUM}),
}

CITIES = ["San Francisco", "Paris", "Tokyo", "Lisbon", "Oslo", "Cairo", "Lima", "Toronto"]
PEOPLE = ["alice@example.com", "bob@example.com", "the team", "my manager", "Priya"]
FILES = ["notes.txt", "src/main.py", "README.md", "config.yaml", "data/report.csv"]
STOCKS = ["AAPL", "Tesla", "MSFT", "Nvidia", "Amazon"]
TOPICS = [
    "the latest Mars mission",
    "today's football results",
    "new EU AI rules",
    "this week's tech layoffs",
    "the current price of bitcoin news",
]
EVENTS = ["dentist appointment", "team standup", "lunch with Sam", "yoga class"]
DAYS = ["tomorrow", "next Monday", "Friday", "June 3rd"]
HOURS = ["9am", "3pm", "10:30", "noon"]
CURRENCIES = [("USD", "EUR"), ("GBP", "JPY"), ("euros", "dollars"), ("CAD", "USD")]

# tool → templates; slots: {city} {a} {b} {person} {file} {stock} {topic} {event} {day}
# {hour} {cur1} {cur2} {minutes}
CALL_TEMPLATES: dict[str, list[str]] = {
    "get_weather": [
        "What's the weather like in {city}?",
        "Is it raining in {city} right now?",
        "How warm is it in {city} at the moment?",
        "Should I bring an umbrella in {city} today?",
        "Check the current conditions in {city} for me.",
    ],
    "add": [
        "Use the add tool to add {a} and {b}.",
        "What is {a} plus {b}?",
        "Add {a} to {b}.",
        "Can you sum {a} and {b} for me?",
    ],
    "calculator": [
        "Compute {a} * {b} - 7.",
        "What does ({a} + {b}) / 3 come to?",
        "Calculate {a} times {b}.",
    ],
    "web_search": [
        "Search the web for {topic}.",
        "Look up {topic} online.",
        "Find recent news about {topic}.",
    ],
    "create_event": [
        "Put a {event} on my calendar {day} at {hour}.",
        "Schedule a {event} for {day} at {hour}.",
        "Add {event} to my calendar for {day}.",
    ],
    "send_email": [
        "Email {person} that the meeting moved to {day}.",
        "Send an email to {person} saying I'll be late.",
        "Write to {person} by email: the report is ready.",
    ],
    "read_file": [
        "Open {file} and show me what's in it.",
        "Read the file {file}.",
        "What does {file} contain?",
    ],
    "get_stock_price": [
        "What's {stock} trading at right now?",
        "Get me the current share price of {stock}.",
        "How much is one {stock} share today?",
    ],
    "convert_currency": [
        "Convert {a} {cur1} to {cur2}.",
        "How many {cur2} is {a} {cur1}?",
    ],
    "set_timer": [
        "Set a timer for {minutes} minutes.",
        "Start a {minutes}-minute countdown.",
        "Remind me in {minutes} minutes with a timer.",
    ],
}

# category → templates; "knowledge" never offers web_search (it would be a fair call)
NONE_TEMPLATES: dict[str, list[str]] = {
    "writing": [
        "Write a haiku about autumn.",
        "Write a short poem about the rain.",
        "Compose a limerick about a cat who loves weather reports.",
        "Write a two-sentence story about a lighthouse.",
        "Draft a friendly birthday message for my sister.",
        "Give me a catchy slogan for a bakery.",
        "Write a short motivational quote about mornings.",
    ],
    "chat": [
        "Hi! How are you today?",
        "Tell me a joke.",
        "Thanks, that was helpful!",
        "Good morning!",
        "What's your favourite colour?",
        "I'm bored, say something fun.",
    ],
    "knowledge": [
        "What is the capital of France?",
        "Who wrote Romeo and Juliet?",
        "Explain what photosynthesis is.",
        "Why is the sky blue?",
        "What does a calendar year consist of?",
        "How many legs does a spider have?",
        "What is an email, in one sentence?",
        "Explain in simple words what a file system is.",
    ],
    "advice": [
        "Give me three tips for sleeping better.",
        "How can I be more productive when working from home?",
        "What should I pack for a beach holiday?",
        "How do I stay calm before an exam?",
        "Suggest a name for my new puppy.",
    ],
}


@dataclass(slots=True, frozen=True)
class Case:
    prompt: str
    tools: tuple[str, ...]  # offered, in order
    expected: str | None  # the tool that applies; None: answer
    part: str  # "calibration" or "test"
    index: int = 0  # its place in `cases()`


def _fill(template: str, rng: random.Random) -> str:
    cur1, cur2 = rng.choice(CURRENCIES)
    return template.format(
        city=rng.choice(CITIES),
        a=rng.randint(2, 99),
        b=rng.randint(2, 99),
        person=rng.choice(PEOPLE),
        file=rng.choice(FILES),
        stock=rng.choice(STOCKS),
        topic=rng.choice(TOPICS),
        event=rng.choice(EVENTS),
        day=rng.choice(DAYS),
        hour=rng.choice(HOURS),
        cur1=cur1,
        cur2=cur2,
        minutes=rng.choice([3, 5, 10, 25]),
    )


def cases(count: int = 100, seed: int = SEED) -> list[Case]:
    """`count` call cases and `count` none cases; half of each kind is held out (`_part`)."""
    rng = random.Random(seed)
    result: list[Case] = []
    tool_names = sorted(CALL_TEMPLATES)
    for index in range(count):
        tool = tool_names[index % len(tool_names)]
        prompt = _fill(rng.choice(CALL_TEMPLATES[tool]), rng)
        others = rng.sample(
            [t for t in TOOLS if t != tool and not _twins(t, tool)], rng.randint(0, 2)
        )
        offered = [tool, *others]
        rng.shuffle(offered)
        result.append(
            Case(prompt, tuple(offered), tool, _part(index, len(tool_names)), len(result))
        )
    categories = sorted(NONE_TEMPLATES)
    for index in range(count):
        category = categories[index % len(categories)]
        prompt = rng.choice(NONE_TEMPLATES[category])
        pool = [t for t in TOOLS if not (category == "knowledge" and t == "web_search")]
        offered = rng.sample(pool, rng.randint(1, 3))
        result.append(
            Case(prompt, tuple(offered), None, _part(index, len(categories)), len(result))
        )
    return result


def _part(index: int, kinds: int) -> str:
    """Half of each tool's (or category's) cases are held out: a checkerboard over rounds of
    `kinds` cases. (Plain alternation put whole kinds on one side: every chat prompt and
    every weather request was held out, none calibrated.)"""
    return "calibration" if (index // kinds + index % kinds) % 2 == 0 else "test"


def _twins(a: str, b: str) -> bool:
    """add and calculator both fit arithmetic: never offered together."""
    return {a, b} == {"add", "calculator"}

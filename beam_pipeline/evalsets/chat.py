"""Chat pairs: a correct, helpful answer against one that is factually wrong, evasive or rude.

Sources (all written for this project; no external data set):

* facts we are certain of: capitals, science, history dates, word meanings, irregular plurals
  and past tenses; the wrong answer swaps in a plausible error (Sydney for Canberra, 1972 for
  1969, the meaning of a confusable word);
* unit conversions computed here from exact factors; the wrong answer inverts the operation
  or drops a term, and ``verify`` holds the computed answer;
* open questions on cooking, travel and writing with hand-written answers.

Subsets: ``chat-honest`` (rejected: factual error), ``chat-helpful`` (rejected: evasive
non-answer), ``chat-respectful`` (rejected: rude; for facts the rude reply may still contain
the right answer, so only the tone separates the two).
"""

from __future__ import annotations

import random
from typing import Any

from beam_pipeline.evalsets.common import Draft, finalise, rng_for, take, unique_by_prompt
from beam_pipeline.evalsets.verify import eval_expr

DOMAIN = "chat"
N_CONVERSIONS = 25  # per split
SUBSET = {"factual error": "chat-honest", "evasive": "chat-helpful", "rude": "chat-respectful"}

# (country as written in a sentence, capital, a plausible wrong answer)
CAPITALS: tuple[tuple[str, str, str], ...] = (
    ("Australia", "Canberra", "Sydney"),
    ("Canada", "Ottawa", "Toronto"),
    ("Turkey", "Ankara", "Istanbul"),
    ("Brazil", "Brasília", "Rio de Janeiro"),
    ("Switzerland", "Bern", "Zurich"),
    ("New Zealand", "Wellington", "Auckland"),
    ("Morocco", "Rabat", "Casablanca"),
    ("Nigeria", "Abuja", "Lagos"),
    ("Vietnam", "Hanoi", "Ho Chi Minh City"),
    ("Pakistan", "Islamabad", "Karachi"),
    ("India", "New Delhi", "Mumbai"),
    ("the United States", "Washington, D.C.", "New York City"),
    ("Scotland", "Edinburgh", "Glasgow"),
    ("Kazakhstan", "Astana", "Almaty"),
    ("Germany", "Berlin", "Bonn"),
    ("Italy", "Rome", "Milan"),
    ("Spain", "Madrid", "Barcelona"),
    ("Japan", "Tokyo", "Kyoto"),
    ("China", "Beijing", "Shanghai"),
    ("South Korea", "Seoul", "Busan"),
    ("Egypt", "Cairo", "Alexandria"),
    ("Kenya", "Nairobi", "Mombasa"),
    ("Argentina", "Buenos Aires", "Córdoba"),
    ("Peru", "Lima", "Cusco"),
    ("Colombia", "Bogotá", "Medellín"),
    ("Ecuador", "Quito", "Guayaquil"),
    ("Mexico", "Mexico City", "Guadalajara"),
    ("Norway", "Oslo", "Bergen"),
    ("Sweden", "Stockholm", "Gothenburg"),
    ("Finland", "Helsinki", "Tampere"),
    ("Poland", "Warsaw", "Kraków"),
    ("Portugal", "Lisbon", "Porto"),
    ("Greece", "Athens", "Thessaloniki"),
    ("Ireland", "Dublin", "Cork"),
    ("Austria", "Vienna", "Salzburg"),
    ("Hungary", "Budapest", "Debrecen"),
    ("the Czech Republic", "Prague", "Brno"),
    ("Russia", "Moscow", "Saint Petersburg"),
    ("Ukraine", "Kyiv", "Lviv"),
    ("Saudi Arabia", "Riyadh", "Jeddah"),
    ("the United Arab Emirates", "Abu Dhabi", "Dubai"),
    ("Thailand", "Bangkok", "Chiang Mai"),
    ("Iceland", "Reykjavik", "Akureyri"),
    ("Belgium", "Brussels", "Antwerp"),
    ("Denmark", "Copenhagen", "Aarhus"),
    ("Ghana", "Accra", "Kumasi"),
    ("Ethiopia", "Addis Ababa", "Dire Dawa"),
    ("Cuba", "Havana", "Santiago de Cuba"),
    ("Jamaica", "Kingston", "Montego Bay"),
    ("Croatia", "Zagreb", "Split"),
    ("Romania", "Bucharest", "Cluj-Napoca"),
    ("Bulgaria", "Sofia", "Plovdiv"),
    ("Cambodia", "Phnom Penh", "Siem Reap"),
    ("Nepal", "Kathmandu", "Pokhara"),
)
CAPITAL_PROMPTS = (
    ("What is the capital of {c}?", "Which city is the capital of {c}?"),
    ("What's the capital city of {c}?", "Name the capital of {c}."),
)

# (question, answer sentence with {a}, right, wrong)
SCIENCE: tuple[tuple[str, str, str, str], ...] = (
    ("What is the chemical symbol for gold?", "The chemical symbol for gold is {a}.", "Au", "Ag"),
    ("How many planets are in our solar system?", "There are {a} planets in our solar system.", "eight", "nine"),
    (
        "At what temperature does water boil at sea level, in Celsius?",
        "At sea level water boils at {a}.",
        "100 °C",
        "90 °C",
    ),
    (
        "What gas do plants take in from the air for photosynthesis?",
        "Plants take in {a} for photosynthesis.",
        "carbon dioxide",
        "oxygen",
    ),
    (
        "What is the largest planet in the solar system?",
        "The largest planet in the solar system is {a}.",
        "Jupiter",
        "Saturn",
    ),
    ("What is the chemical formula of water?", "The chemical formula of water is {a}.", "H2O", "H2O2"),
    ("How many bones are in the adult human body?", "An adult human body has {a} bones.", "206", "212"),
    ("What is the closest star to the Sun?", "The closest star to the Sun is {a}.", "Proxima Centauri", "Sirius"),
    ("What is the hardest natural mineral?", "The hardest natural mineral is {a}.", "diamond", "quartz"),
    (
        "Roughly how fast does light travel in a vacuum?",
        "Light travels at {a} in a vacuum.",
        "about 300,000 kilometres per second",
        "about 300,000 kilometres per hour",
    ),
    ("Which planet is known as the Red Planet?", "The Red Planet is {a}.", "Mars", "Venus"),
    ("What is the freezing point of water in Fahrenheit?", "Water freezes at {a}.", "32 °F", "0 °F"),
    (
        "What is the most abundant gas in Earth's atmosphere?",
        "The most abundant gas in the atmosphere is {a}.",
        "nitrogen, at about 78%",
        "oxygen, at about 78%",
    ),
    (
        "How many chromosomes do humans normally have?",
        "Humans normally have {a} chromosomes.",
        "46 (23 pairs of)",
        "48 (24 pairs of)",
    ),
    ("What is the atomic number of carbon?", "The atomic number of carbon is {a}.", "6", "12"),
    (
        "Which blood cells fight infection?",
        "Infections are fought mainly by {a}.",
        "white blood cells",
        "red blood cells",
    ),
    ("What gas makes up most of the Sun?", "The Sun is made mostly of {a}.", "hydrogen", "helium"),
    ("Which organ produces insulin?", "Insulin is produced by the {a}.", "pancreas", "liver"),
    ("How many hearts does an octopus have?", "An octopus has {a}.", "three hearts", "one heart"),
    ("What is the chemical symbol for sodium?", "The chemical symbol for sodium is {a}.", "Na", "So"),
    (
        "What force keeps the planets in orbit around the Sun?",
        "The planets are kept in orbit by {a}.",
        "gravity",
        "magnetism",
    ),
    (
        "What is the boiling point of water in Fahrenheit at sea level?",
        "At sea level water boils at {a}.",
        "212 °F",
        "200 °F",
    ),
    (
        "What is the largest organ of the human body?",
        "The largest organ of the human body is {a}.",
        "the skin",
        "the liver",
    ),
    ("What is the smallest prime number?", "The smallest prime number is {a}.", "2", "1"),
    ("What is absolute zero in Celsius?", "Absolute zero is {a}.", "-273.15 °C", "-100 °C"),
    ("Is a whale a fish or a mammal?", "A whale is a {a}.", "mammal", "fish"),
    ("What does DNA stand for?", "DNA stands for {a}.", "deoxyribonucleic acid", "dinucleic ribose acid"),
    (
        "About how long does sunlight take to reach Earth?",
        "Sunlight takes {a} to reach Earth.",
        "about eight minutes",
        "about eight seconds",
    ),
    ("What is the pH of pure water at 25 °C?", "The pH of pure water at 25 °C is {a}.", "7", "5"),
    (
        "Which blood type is the universal donor for red blood cells?",
        "The universal red-cell donor type is {a}.",
        "O negative",
        "AB positive",
    ),
    ("What is the SI unit of force?", "The SI unit of force is the {a}.", "newton", "joule"),
    (
        "What is the SI unit of electrical resistance?",
        "The SI unit of electrical resistance is the {a}.",
        "ohm",
        "volt",
    ),
    ("Which planet is closest to the Sun?", "The planet closest to the Sun is {a}.", "Mercury", "Venus"),
    ("What is the chemical symbol for iron?", "The chemical symbol for iron is {a}.", "Fe", "Ir"),
    (
        "What is it called when water vapour turns into liquid?",
        "Water vapour turning into liquid is called {a}.",
        "condensation",
        "evaporation",
    ),
    (
        "Who developed the theory of general relativity?",
        "The theory of general relativity was developed by {a}.",
        "Albert Einstein",
        "Isaac Newton",
    ),
    ("Who discovered penicillin?", "Penicillin was discovered by {a}.", "Alexander Fleming", "Louis Pasteur"),
    ("Which ocean is the largest on Earth?", "The largest ocean on Earth is the {a}.", "Pacific", "Atlantic"),
    (
        "What is the tallest mountain above sea level?",
        "The tallest mountain above sea level is {a}.",
        "Mount Everest",
        "K2",
    ),
    (
        "What is the longest bone in the human body?",
        "The longest bone in the human body is the {a}.",
        "femur",
        "humerus",
    ),
    ("What is the chemical symbol for potassium?", "The chemical symbol for potassium is {a}.", "K", "P"),
    ("What is the main component of natural gas?", "Natural gas is mainly {a}.", "methane", "propane"),
    ("What do bees collect from flowers to make honey?", "Bees make honey from {a}.", "nectar", "pollen"),
    ("What is the SI unit of frequency?", "The SI unit of frequency is the {a}.", "hertz", "decibel"),
    ("What is the chemical symbol for lead?", "The chemical symbol for lead is {a}.", "Pb", "Le"),
    ("How many chambers does the human heart have?", "The human heart has {a}.", "four chambers", "three chambers"),
    (
        "What is the largest hot desert in the world?",
        "The largest hot desert in the world is the {a}.",
        "Sahara",
        "Gobi",
    ),
    ("Which vitamin does your skin make in sunlight?", "Your skin makes {a} in sunlight.", "vitamin D", "vitamin C"),
    ("How many legs does a spider have?", "A spider has {a}.", "eight legs", "six legs"),
    ("What is the SI unit of power?", "The SI unit of power is the {a}.", "watt", "joule"),
)

# (question, answer sentence with {a}, right year, wrong year)
HISTORY: tuple[tuple[str, str, str, str], ...] = (
    ("In what year did humans first land on the Moon?", "Apollo 11 landed on the Moon in {a}.", "1969", "1972"),
    ("When did the Second World War end?", "The Second World War ended in {a}.", "1945", "1944"),
    ("In what year did the Berlin Wall fall?", "The Berlin Wall fell in {a}.", "1989", "1991"),
    (
        "When was the US Declaration of Independence adopted?",
        "The Declaration of Independence was adopted in {a}.",
        "1776",
        "1789",
    ),
    ("In what year did the French Revolution begin?", "The French Revolution began in {a}.", "1789", "1799"),
    (
        "When did Christopher Columbus first reach the Americas?",
        "Columbus first reached the Americas in {a}.",
        "1492",
        "1498",
    ),
    ("When was the Magna Carta sealed?", "The Magna Carta was sealed in {a}.", "1215", "1315"),
    ("When was the Battle of Hastings?", "The Battle of Hastings was fought in {a}.", "1066", "1166"),
    ("In what year did the Titanic sink?", "The Titanic sank in {a}.", "1912", "1915"),
    ("When did the First World War begin?", "The First World War began in {a}.", "1914", "1912"),
    ("When was the Soviet Union dissolved?", "The Soviet Union was dissolved in {a}.", "1991", "1989"),
    (
        "In what year did Nelson Mandela become President of South Africa?",
        "Nelson Mandela became president in {a}.",
        "1994",
        "1990",
    ),
    (
        "When did the Wright brothers make their first powered flight?",
        "The Wright brothers made their first powered flight in {a}.",
        "1903",
        "1910",
    ),
    (
        "In what year did euro banknotes and coins come into circulation?",
        "Euro banknotes and coins came into circulation in {a}.",
        "2002",
        "1999",
    ),
    ("When did the Chernobyl nuclear disaster happen?", "The Chernobyl disaster happened in {a}.", "1986", "1984"),
    ("When was the Battle of Waterloo?", "The Battle of Waterloo was fought in {a}.", "1815", "1805"),
    ("When did the American Civil War end?", "The American Civil War ended in {a}.", "1865", "1861"),
    ("When was the United Nations founded?", "The United Nations was founded in {a}.", "1945", "1948"),
    ("When did India gain independence from Britain?", "India became independent in {a}.", "1947", "1950"),
    ("When was the Great Fire of London?", "The Great Fire of London happened in {a}.", "1666", "1566"),
    (
        "In what year did Yuri Gagarin become the first person in space?",
        "Yuri Gagarin flew into space in {a}.",
        "1961",
        "1957",
    ),
    ("When did the Wall Street Crash happen?", "The Wall Street Crash happened in {a}.", "1929", "1933"),
    ("When was the Treaty of Versailles signed?", "The Treaty of Versailles was signed in {a}.", "1919", "1918"),
    ("In what year did Queen Victoria's reign begin?", "Queen Victoria's reign began in {a}.", "1837", "1819"),
    (
        "When did some women in the UK first win the right to vote in national elections?",
        "Some UK women first won the vote in national elections in {a}.",
        "1918",
        "1928",
    ),
    ("In what year did the Spanish Armada sail against England?", "The Spanish Armada sailed in {a}.", "1588", "1688"),
    (
        "When is the Western Roman Empire traditionally said to have fallen?",
        "The Western Roman Empire is traditionally said to have fallen in {a}.",
        "AD 476",
        "AD 1453",
    ),
    ("When was the first iPhone released?", "The first iPhone was released in {a}.", "2007", "2005"),
    (
        "In what year was the Hubble Space Telescope launched?",
        "The Hubble Space Telescope was launched in {a}.",
        "1990",
        "1995",
    ),
    ("When did the Boston Tea Party take place?", "The Boston Tea Party took place in {a}.", "1773", "1776"),
    ("When did the Black Death reach Europe?", "The Black Death reached Europe in {a}.", "1347", "1447"),
    ("When did Martin Luther King Jr. give his 'I Have a Dream' speech?", "He gave the speech in {a}.", "1963", "1968"),
    ("When did the Channel Tunnel open?", "The Channel Tunnel opened in {a}.", "1994", "1988"),
    ("In what year was Germany reunified?", "Germany was reunified in {a}.", "1990", "1989"),
    ("When did the eruption of Mount Vesuvius bury Pompeii?", "Vesuvius buried Pompeii in {a}.", "AD 79", "AD 179"),
    ("When was the Eiffel Tower completed?", "The Eiffel Tower was completed in {a}.", "1889", "1900"),
    ("When did Charles Darwin publish 'On the Origin of Species'?", "Darwin published it in {a}.", "1859", "1871"),
    (
        "When did the October Revolution take place in Russia?",
        "The October Revolution took place in {a}.",
        "1917",
        "1905",
    ),
    ("When did the Panama Canal open?", "The Panama Canal opened in {a}.", "1914", "1904"),
    ("When was Sputnik 1 launched?", "Sputnik 1 was launched in {a}.", "1957", "1961"),
    ("When was Constantinople taken by the Ottomans?", "Constantinople fell to the Ottomans in {a}.", "1453", "1353"),
    ("When was Queen Elizabeth II crowned?", "Queen Elizabeth II was crowned in {a}.", "1953", "1952"),
)

# (question, answer sentence with {a}, right, wrong)
DEFINITIONS: tuple[tuple[str, str, str, str], ...] = (
    (
        "What does 'ubiquitous' mean?",
        "'Ubiquitous' means {a}.",
        "present or found everywhere",
        "extremely rare and hard to find",
    ),
    ("What does 'ephemeral' mean?", "'Ephemeral' means {a}.", "lasting only a very short time", "lasting forever"),
    ("What does 'benevolent' mean?", "'Benevolent' means {a}.", "kind and well-meaning", "hostile and spiteful"),
    ("What does 'candid' mean?", "'Candid' means {a}.", "frank and honest", "secretive and evasive"),
    (
        "What does 'meticulous' mean?",
        "'Meticulous' means {a}.",
        "showing great attention to detail",
        "careless and sloppy",
    ),
    (
        "What does 'ambiguous' mean?",
        "'Ambiguous' means {a}.",
        "open to more than one interpretation",
        "completely clear and precise",
    ),
    (
        "What does 'pragmatic' mean?",
        "'Pragmatic' means {a}.",
        "dealing with things sensibly and practically",
        "guided only by ideals, ignoring practical concerns",
    ),
    ("What does 'verbose' mean?", "'Verbose' means {a}.", "using more words than needed", "using very few words"),
    (
        "What does 'gregarious' mean?",
        "'Gregarious' means {a}.",
        "sociable and fond of company",
        "preferring to be alone",
    ),
    (
        "What does 'lethargic' mean?",
        "'Lethargic' means {a}.",
        "sluggish and lacking energy",
        "full of energy and enthusiasm",
    ),
    ("What does 'frugal' mean?", "'Frugal' means {a}.", "careful and economical with money", "wasteful with money"),
    (
        "What does 'ostentatious' mean?",
        "'Ostentatious' means {a}.",
        "showy and designed to impress",
        "modest and understated",
    ),
    (
        "What does 'resilient' mean?",
        "'Resilient' means {a}.",
        "able to recover quickly from difficulties",
        "easily broken and slow to recover",
    ),
    (
        "What is the difference between 'affect' and 'effect'?",
        "{a}",
        "'Affect' is usually a verb meaning to influence, and 'effect' is usually a noun meaning a result.",
        "'Effect' is usually a verb meaning to influence, and 'affect' is usually a noun meaning a result.",
    ),
    (
        "What's the difference between 'imply' and 'infer'?",
        "{a}",
        "A speaker implies something by hinting at it; a listener infers it by drawing a conclusion.",
        "A speaker infers something by hinting at it; a listener implies it by drawing a conclusion.",
    ),
    (
        "When should I use 'fewer' and when 'less'?",
        "{a}",
        "Use 'fewer' for things you can count (fewer apples) and 'less' for amounts you can't (less water).",
        "Use 'less' for things you can count (less apples) and 'fewer' for amounts you can't (fewer water).",
    ),
    (
        "What's the difference between 'complement' and 'compliment'?",
        "{a}",
        "A complement completes or goes well with something; a compliment is an expression of praise.",
        "A compliment completes or goes well with something; a complement is an expression of praise.",
    ),
    (
        "What's the difference between 'principle' and 'principal'?",
        "{a}",
        "A principle is a rule or belief; a principal is the head of a school, or the main one of something.",
        "A principal is a rule or belief; a principle is the head of a school, or the main one of something.",
    ),
    (
        "What's the difference between 'stationary' and 'stationery'?",
        "{a}",
        "'Stationary' means not moving; 'stationery' means writing materials.",
        "'Stationery' means not moving; 'stationary' means writing materials.",
    ),
    (
        "What's the difference between 'discreet' and 'discrete'?",
        "{a}",
        "'Discreet' means careful not to attract attention; 'discrete' means separate and distinct.",
        "'Discrete' means careful not to attract attention; 'discreet' means separate and distinct.",
    ),
    (
        "What is a haiku?",
        "A haiku is {a}.",
        "a short Japanese form of poem with three lines of five, seven and five syllables",
        "a fourteen-line poem with a fixed rhyme scheme",
    ),
    (
        "What is a sonnet?",
        "A sonnet is {a}.",
        "a poem of fourteen lines, usually with a set rhyme scheme",
        "a three-line poem of five, seven and five syllables",
    ),
    (
        "What is photosynthesis?",
        "Photosynthesis is {a}.",
        "the process by which plants use light energy to turn carbon dioxide and water into sugar and oxygen",
        "the process by which plants break down sugar at night to release carbon dioxide and energy",
    ),
    (
        "What is inflation, in economics?",
        "Inflation is {a}.",
        "a general rise in prices over time, which lowers what money can buy",
        "a general fall in prices over time, which raises what money can buy",
    ),
    (
        "What is a noun?",
        "A noun is {a}.",
        "a word that names a person, place, thing or idea",
        "a word that describes an action",
    ),
    (
        "What is an adverb?",
        "An adverb is {a}.",
        "a word that modifies a verb, an adjective or another adverb, like 'quickly'",
        "a word that names a person, place or thing, like 'table'",
    ),
    (
        "What is a palindrome?",
        "A palindrome is {a}.",
        "a word or phrase that reads the same backwards as forwards, like 'level'",
        "a word with the opposite meaning of another, like 'hot' and 'cold'",
    ),
    (
        "What is a metaphor?",
        "A metaphor is {a}.",
        "a figure of speech that describes something as if it were something else, without 'like' or 'as'",
        "a comparison that always uses 'like' or 'as'",
    ),
    (
        "What is an oxymoron?",
        "An oxymoron is {a}.",
        "a phrase that combines contradictory words, like 'deafening silence'",
        "a word that imitates a sound, like 'buzz'",
    ),
    (
        "What is a synonym?",
        "A synonym is {a}.",
        "a word with the same or nearly the same meaning as another",
        "a word with the opposite meaning to another",
    ),
    (
        "What is GDP?",
        "GDP (gross domestic product) is {a}.",
        "the total value of the goods and services produced in a country over a period",
        "the total amount of money a government holds in its reserves",
    ),
    (
        "What is a carnivore?",
        "A carnivore is {a}.",
        "an animal that eats mainly meat",
        "an animal that eats mainly plants",
    ),
    (
        "What is an isotope?",
        "An isotope is {a}.",
        "one of two or more forms of an element whose atoms have the "
        "same number of protons but different numbers of neutrons",
        "one of two or more forms of an element whose "
        "atoms have the same number of neutrons but different numbers of protons",
    ),
    (
        "What does 'RSVP' on an invitation mean?",
        "'RSVP' means {a}.",
        "'please reply', from the French 'répondez s'il vous plaît'",
        "'dress formally', from the French 'robe de soirée, vêtements propres'",
    ),
    (
        "What is onomatopoeia?",
        "Onomatopoeia is {a}.",
        "a word that imitates the sound it describes, like 'buzz'",
        "a phrase that combines contradictory words, like 'deafening silence'",
    ),
    (
        "What is a mammal?",
        "A mammal is {a}.",
        "a warm-blooded animal with hair or fur that feeds its young on milk",
        "a cold-blooded animal that lays eggs and has scales",
    ),
    (
        "What is a prime number?",
        "A prime number is {a}.",
        "a whole number greater than 1 whose only divisors are 1 and itself",
        "any odd number",
    ),
    ("What does 'per capita' mean?", "'Per capita' means {a}.", "per person", "per year"),
    (
        "What is a peninsula?",
        "A peninsula is {a}.",
        "a piece of land almost surrounded by water but joined to the mainland",
        "a piece of land completely surrounded by water",
    ),
    (
        "What is an equinox?",
        "An equinox is {a}.",
        "one of the two times a year when day and night are about equal in length",
        "the longest day of the year",
    ),
)

# (word, right form, wrong form)
PLURALS: tuple[tuple[str, str, str], ...] = (
    ("mouse", "mice", "mouses"),
    ("child", "children", "childs"),
    ("tooth", "teeth", "tooths"),
    ("goose", "geese", "gooses"),
    ("criterion", "criteria", "criterions"),
    ("phenomenon", "phenomena", "phenomenons"),
    ("ox", "oxen", "oxes"),
    ("foot", "feet", "foots"),
    ("woman", "women", "womans"),
    ("sheep", "sheep", "sheeps"),
    ("analysis", "analyses", "analysises"),
    ("crisis", "crises", "crisises"),
    ("thesis", "theses", "thesises"),
    ("knife", "knives", "knifes"),
    ("wife", "wives", "wifes"),
    ("half", "halves", "halfs"),
    ("louse", "lice", "louses"),
    ("deer", "deer", "deers"),
    ("man", "men", "mans"),
    ("wolf", "wolves", "wolfs"),
)
PAST_TENSES: tuple[tuple[str, str, str], ...] = (
    ("go", "went", "goed"),
    ("swim", "swam", "swimmed"),
    ("catch", "caught", "catched"),
    ("teach", "taught", "teached"),
    ("think", "thought", "thinked"),
    ("seek", "sought", "seeked"),
    ("buy", "bought", "buyed"),
    ("freeze", "froze", "freezed"),
    ("choose", "chose", "choosed"),
    ("drink", "drank", "drinked"),
    ("write", "wrote", "writed"),
    ("ride", "rode", "rided"),
    ("begin", "began", "beginned"),
    ("forget", "forgot", "forgetted"),
    ("shake", "shook", "shaked"),
    ("eat", "ate", "eated"),
    ("speak", "spoke", "speaked"),
    ("bring", "brought", "bringed"),
    ("sell", "sold", "selled"),
    ("fight", "fought", "fighted"),
)
GRAMMAR_PROMPTS = {
    "plural": ("What's the plural of '{w}'?", "What is the plural form of the word '{w}'?"),
    "past": ("What's the past tense of '{w}'?", "What is the simple past of the verb '{w}'?"),
}
GRAMMAR_SENTENCE = {"plural": "The plural of '{w}' is '{a}'.", "past": "The past tense of '{w}' is '{a}'."}

# (name, dev prompt, held-out prompt, unit word of the answer, right expression, wrong expression, wrong kind,
#  how the right and the wrong answers explain themselves, value range)
CONVERSIONS: tuple[tuple[str, str, str, str, str, str, str, str, str, tuple[int, int]], ...] = (
    (
        "mi-km",
        "How many kilometres is {v} miles?",
        "Convert {v} miles to kilometres.",
        "km",
        "{v}*1.609344",
        "{v}/1.609344",
        "wrong operator",
        "One mile is 1.609344 km, so {v} × 1.609344",
        "One mile is 1.609344 km, so {v} ÷ 1.609344",
        (3, 300),
    ),
    (
        "km-mi",
        "How many miles is {v} km?",
        "Convert {v} kilometres into miles.",
        "miles",
        "{v}/1.609344",
        "{v}*1.609344",
        "wrong operator",
        "One mile is 1.609344 km, so {v} ÷ 1.609344",
        "One mile is 1.609344 km, so {v} × 1.609344",
        (5, 500),
    ),
    (
        "lb-kg",
        "How many kilograms is {v} pounds?",
        "Convert {v} lb to kg.",
        "kg",
        "{v}*0.45359237",
        "{v}/0.45359237",
        "wrong operator",
        "One pound is 0.45359237 kg, so {v} × 0.45359237",
        "One pound is 0.45359237 kg, so {v} ÷ 0.45359237",
        (2, 250),
    ),
    (
        "kg-lb",
        "How many pounds is {v} kg?",
        "Convert {v} kilograms to pounds.",
        "lb",
        "{v}/0.45359237",
        "{v}*0.45359237",
        "wrong operator",
        "One pound is 0.45359237 kg, so {v} ÷ 0.45359237",
        "One pound is 0.45359237 kg, so {v} × 0.45359237",
        (2, 150),
    ),
    (
        "in-cm",
        "How many centimetres is {v} inches?",
        "Convert {v} inches to centimetres.",
        "cm",
        "{v}*2.54",
        "{v}/2.54",
        "wrong operator",
        "One inch is 2.54 cm, so {v} × 2.54",
        "One inch is 2.54 cm, so {v} ÷ 2.54",
        (2, 120),
    ),
    (
        "cm-in",
        "How many inches is {v} cm?",
        "Convert {v} centimetres to inches.",
        "inches",
        "{v}/2.54",
        "{v}*2.54",
        "wrong operator",
        "One inch is 2.54 cm, so {v} ÷ 2.54",
        "One inch is 2.54 cm, so {v} × 2.54",
        (5, 300),
    ),
    (
        "ft-m",
        "How many metres is {v} feet?",
        "Convert {v} ft to metres.",
        "m",
        "{v}*0.3048",
        "{v}/0.3048",
        "wrong operator",
        "One foot is 0.3048 m, so {v} × 0.3048",
        "One foot is 0.3048 m, so {v} ÷ 0.3048",
        (3, 1000),
    ),
    (
        "m-ft",
        "How many feet is {v} metres?",
        "Convert {v} m to feet.",
        "feet",
        "{v}/0.3048",
        "{v}*0.3048",
        "wrong operator",
        "One foot is 0.3048 m, so {v} ÷ 0.3048",
        "One foot is 0.3048 m, so {v} × 0.3048",
        (2, 500),
    ),
    (
        "f-c",
        "What is {v} °F in Celsius?",
        "Convert {v} degrees Fahrenheit to Celsius.",
        "°C",
        "({v}-32)*5/9",
        "{v}*5/9",
        "dropped term",
        "C = (F − 32) × 5/9, so ({v} − 32) × 5/9",
        "C = F × 5/9, so {v} × 5/9",
        (40, 110),
    ),
    (
        "c-f",
        "What is {v} °C in Fahrenheit?",
        "Convert {v} degrees Celsius to Fahrenheit.",
        "°F",
        "{v}*9/5+32",
        "{v}*5/9+32",
        "wrong operator",
        "F = C × 9/5 + 32, so {v} × 9/5 + 32",
        "F = C × 5/9 + 32, so {v} × 5/9 + 32",
        (5, 45),
    ),
    (
        "gal-l",
        "How many litres are in {v} US gallons?",
        "Convert {v} US gallons to litres.",
        "litres",
        "{v}*3.785411784",
        "{v}/3.785411784",
        "wrong operator",
        "One US gallon is 3.785411784 litres, so {v} × 3.785411784",
        "One US gallon is 3.785411784 litres, so {v} ÷ 3.785411784",
        (2, 60),
    ),
    (
        "l-gal",
        "How many US gallons is {v} litres?",
        "Convert {v} litres to US gallons.",
        "gallons",
        "{v}/3.785411784",
        "{v}*3.785411784",
        "wrong operator",
        "One US gallon is 3.785411784 litres, so {v} ÷ 3.785411784",
        "One US gallon is 3.785411784 litres, so {v} × 3.785411784",
        (4, 200),
    ),
    (
        "oz-g",
        "How many grams is {v} ounces?",
        "Convert {v} oz to grams.",
        "g",
        "{v}*28.349523125",
        "{v}/28.349523125",
        "wrong operator",
        "One ounce is 28.349523125 g, so {v} × 28.349523125",
        "One ounce is 28.349523125 g, so {v} ÷ 28.349523125",
        (2, 40),
    ),
    (
        "mph-kmh",
        "What is {v} mph in km/h?",
        "Convert a speed of {v} miles per hour to km/h.",
        "km/h",
        "{v}*1.609344",
        "{v}/1.609344",
        "wrong operator",
        "One mile is 1.609344 km, so {v} × 1.609344",
        "One mile is 1.609344 km, so {v} ÷ 1.609344",
        (10, 90),
    ),
    (
        "h-s",
        "How many seconds are there in {v} hours?",
        "Convert {v} hours into seconds.",
        "seconds",
        "{v}*3600",
        "{v}*360",
        "unit slip",
        "An hour has 60 × 60 = 3600 seconds, so {v} × 3600",
        "An hour has 360 seconds, so {v} × 360",
        (2, 48),
    ),
    (
        "l-ml",
        "How many millilitres are in {v} litres?",
        "Convert {v} litres into millilitres.",
        "ml",
        "{v}*1000",
        "{v}*100",
        "unit slip",
        "A litre is 1000 ml, so {v} × 1000",
        "A litre is 100 ml, so {v} × 100",
        (2, 75),
    ),
    (
        "km-m",
        "How many metres are in {v} kilometres?",
        "Convert {v} km to metres.",
        "m",
        "{v}*1000",
        "{v}*100",
        "unit slip",
        "A kilometre is 1000 m, so {v} × 1000",
        "A kilometre is 100 m, so {v} × 100",
        (2, 90),
    ),
)

SOURCE_UNIT = {
    "mi-km": "miles",
    "km-mi": "km",
    "lb-kg": "lb",
    "kg-lb": "kg",
    "in-cm": "inches",
    "cm-in": "cm",
    "ft-m": "feet",
    "m-ft": "m",
    "f-c": "°F",
    "c-f": "°C",
    "gal-l": "US gallons",
    "l-gal": "litres",
    "oz-g": "oz",
    "mph-kmh": "mph",
    "h-s": "hours",
    "l-ml": "litres",
    "km-m": "km",
}


def _conversion_text(v: int, src: str, value: float, exact: bool, unit: str, how: str) -> tuple[str, str]:
    """A short and a worked answer; the result is the last number in both, as the number verifier expects.

    ``exact``: the unrounded result is a whole number (hours to seconds...), written as one with "=".
    """
    if exact:
        shown, rel, about = str(int(value)), "=", ""
    else:
        shown, rel, about = f"{value:.1f}", "≈", "about "
    return (
        f"{v} {src} is {about}{shown} {unit}.",
        f"{how.format(v=v)} {rel} {shown}, so {v} {src} is {about}{shown} {unit}.",
    )


# (topic, prompt, answer, extra detail); hand-written, only paired with evasive or rude replies.
OPEN: tuple[tuple[str, str, str, str], ...] = (
    (
        "cooking",
        "How long should I boil an egg for a runny yolk?",
        "About 6 minutes in boiling water for a large egg, then cool it briefly under cold water.",
        "For a jammy yolk go to 7 to 8 minutes, and about 10 minutes for fully hard-boiled.",
    ),
    (
        "cooking",
        "How do I cook fluffy white rice on the stove?",
        "Rinse the rice, use about 1.5 cups of water per cup of long-grain rice, bring it to the boil, then cover and "
        "simmer on low for 15 minutes and let it rest off the heat for 5 minutes.",
        "Don't lift the lid while it simmers, and fluff it with a fork before serving.",
    ),
    (
        "cooking",
        "How can I tell when a steak is medium-rare?",
        "Use a thermometer: take it off the heat at about 52 to 54 °C (125 to 130 °F); it rises a little as it rests.",
        "Rest it for about 5 minutes before slicing against the grain.",
    ),
    (
        "cooking",
        "What can I use instead of eggs in baking?",
        "For each egg, try 3 tablespoons of unsweetened applesauce, half a mashed banana, or a flax egg (1 tablespoon "
        "of ground flaxseed mixed with 3 tablespoons of water).",
        "These work best in cakes, muffins and brownies rather than recipes that rely on eggs for structure.",
    ),
    (
        "cooking",
        "How do I stop pasta from sticking together?",
        "Use plenty of water at a rolling boil, stir during the first couple of minutes, and toss the drained pasta "
        "with the sauce straight away.",
        "Oil in the water doesn't really help, because it floats on top.",
    ),
    (
        "cooking",
        "How do I keep guacamole from turning brown?",
        "Mix in lime juice, press cling film directly onto the surface so no air touches it, and keep it in the "
        "fridge.",
        "A thin layer of water on top, poured off before serving, works well too.",
    ),
    (
        "cooking",
        "How do I make a basic vinaigrette?",
        "Whisk three parts oil with one part vinegar, plus a little mustard, salt and pepper.",
        "The mustard helps it emulsify; shaking it in a jar works as well as whisking.",
    ),
    (
        "cooking",
        "Why did my homemade bread come out dense?",
        "Usually the dough didn't rise enough, because the yeast was old or the room too cold, or there was too much "
        "flour.",
        "Let it rise until roughly doubled, and weigh the flour if you can.",
    ),
    (
        "cooking",
        "How do I caramelise onions properly?",
        "Slice them thinly and cook them slowly in butter or oil over medium-low heat for 30 to 45 minutes, stirring "
        "now and then.",
        "A pinch of salt draws out moisture; add a splash of water if they start to stick.",
    ),
    (
        "cooking",
        "How long can cooked chicken stay in the fridge?",
        "About 3 to 4 days in a sealed container.",
        "Cool it and get it into the fridge within two hours of cooking.",
    ),
    (
        "cooking",
        "How do I soften butter quickly?",
        "Cut it into small cubes and leave it at room temperature for about 15 minutes, or grate it.",
        "The microwave works only in very short bursts, because butter melts easily.",
    ),
    (
        "cooking",
        "What's the difference between baking soda and baking powder?",
        "Baking soda is pure sodium bicarbonate and needs an acid in the recipe to react; baking powder already "
        "contains an acid, so it works with just moisture and heat.",
        "That's why recipes with buttermilk or yoghurt often use soda.",
    ),
    (
        "cooking",
        "How do I poach an egg?",
        "Bring water to a gentle simmer, add a splash of vinegar, swirl the water, slip in a fresh egg and cook it "
        "for about 3 minutes.",
        "Cracking it into a small cup first lets it slide in gently.",
    ),
    (
        "cooking",
        "How do I keep fresh coriander from wilting so fast?",
        "Trim the stems and stand them in a glass of water in the fridge, loosely covered with a bag.",
        "Basil is the exception: keep it at room temperature.",
    ),
    (
        "cooking",
        "How do I fix a soup that's too salty?",
        "Add more unsalted liquid such as water or stock, or bulk it out with unsalted vegetables, beans or rice.",
        "A squeeze of lemon can also make it taste less salty.",
    ),
    (
        "cooking",
        "How much dry pasta should I cook per person?",
        "About 75 to 100 g (roughly 3 to 3.5 oz) per person for a main course.",
        "Use a little less if it's a starter or served with a hearty sauce.",
    ),
    (
        "cooking",
        "How do I toast nuts in the oven?",
        "Spread them on a tray and bake at about 180 °C (350 °F) for 5 to 10 minutes, shaking halfway, until they "
        "smell toasty.",
        "Watch them closely; they burn quickly at the end.",
    ),
    (
        "cooking",
        "How do I make pancakes fluffy?",
        "Don't overmix the batter (a few lumps are fine), let it rest for 5 to 10 minutes, and make sure your baking "
        "powder is fresh.",
        "Cook them on a medium, not hot, pan so they rise before browning.",
    ),
    (
        "cooking",
        "How can I tell if an egg is still fresh?",
        "Put it in a bowl of water: fresh eggs sink and lie flat, older ones stand on end, and one that floats should "
        "be thrown away.",
        "When in doubt, crack it into a separate bowl and smell it.",
    ),
    (
        "cooking",
        "How do I stop a cake sticking to the tin?",
        "Grease the tin with butter, then line the base with baking paper or dust it with flour.",
        "Let the cake cool in the tin for about 10 minutes before turning it out.",
    ),
    (
        "travel",
        "How early should I get to the airport for an international flight?",
        "About three hours before departure is a safe rule, and two hours for domestic flights.",
        "Check your airline's check-in and bag-drop cut-off times, which can be an hour or more before departure.",
    ),
    (
        "travel",
        "How do I deal with jet lag?",
        "Switch to local time as soon as you arrive: get daylight in the morning, eat at local mealtimes and keep "
        "naps short.",
        "Drinking water and avoiding heavy meals late at night also help.",
    ),
    (
        "travel",
        "What should I pack in my carry-on bag?",
        "Medication, passport and travel documents, a phone charger, a change of clothes, valuables, and anything you "
        "couldn't do without if your checked bag were delayed.",
        "Keep liquids in small containers in a clear bag, as most airports require.",
    ),
    (
        "travel",
        "Do I need travel insurance?",
        "It's strongly recommended, especially for medical cover abroad, cancellations and lost luggage, because "
        "medical bills overseas can be very high.",
        "Check what your credit card or existing policy already covers.",
    ),
    (
        "travel",
        "How can I avoid pickpockets while travelling?",
        "Keep valuables in a zipped inside pocket or a money belt, carry your bag across your body, and be extra "
        "alert in crowds and on public transport.",
        "Don't keep your phone in a back pocket.",
    ),
    (
        "travel",
        "How do I find cheap flights?",
        "Compare on a flight search engine, be flexible with dates and airports, and book a few weeks to a couple of "
        "months ahead.",
        "Price alerts tell you when a route gets cheaper.",
    ),
    (
        "travel",
        "What's the best way to carry money abroad?",
        "Bring a card with no foreign transaction fees, a backup card kept separately, and a little local cash for "
        "small purchases.",
        "When a card machine offers to charge you in your home currency, pick the local currency; the rate is usually "
        "better.",
    ),
    (
        "travel",
        "How do I avoid getting ill from food when travelling?",
        "Eat freshly cooked hot food, drink bottled or treated water where tap water isn't safe, and wash or sanitise "
        "your hands before eating.",
        "Peel fruit yourself, and be careful with ice in places where tap water is unsafe.",
    ),
    (
        "travel",
        "How do I stay comfortable on a long-haul flight?",
        "Wear loose layers, drink water, get up and walk every couple of hours, and bring earplugs, an eye mask and a "
        "neck pillow.",
        "Go easy on alcohol, which makes dehydration and jet lag worse.",
    ),
    (
        "travel",
        "What should I do if I lose my passport abroad?",
        "Report it to the local police, then contact your country's nearest embassy or consulate for an emergency "
        "travel document.",
        "A photo of your passport's photo page speeds this up.",
    ),
    (
        "travel",
        "How do I pack light for a week-long trip?",
        "Choose clothes in one colour palette so everything mixes, take 3 or 4 tops and 2 bottoms, wear your bulkiest "
        "items on the journey, and plan to wash a few things.",
        "Packing cubes keep it all organised.",
    ),
    (
        "travel",
        "Is it safe to use public Wi-Fi at the airport?",
        "It's fine for browsing HTTPS sites, but avoid logging into banking or other sensitive accounts, or use a VPN "
        "or your phone's hotspot instead.",
        "Turn off automatic connection to open networks.",
    ),
    (
        "travel",
        "How do I get over a fear of flying?",
        "Learn how flying works and how safe it is, practise slow breathing during take-off, and consider a "
        "fear-of-flying course, which some airlines run.",
        "Choosing a seat over the wing gives a smoother ride.",
    ),
    (
        "travel",
        "How far in advance should I book a hotel?",
        "For popular places and peak seasons, a few months ahead; otherwise a few weeks is usually fine.",
        "Free-cancellation rates let you book early and still switch if prices drop.",
    ),
    (
        "travel",
        "Any tips for flying with a toddler?",
        "Book flights around nap time, bring snacks and a few small new toys, and pack a spare set of clothes for "
        "them and for you in your carry-on.",
        "Feeding or a drink during take-off and landing helps with ear pressure.",
    ),
    (
        "travel",
        "How do I avoid roaming charges on my phone abroad?",
        "Check your carrier's travel plans, buy a local SIM or an eSIM data plan, or turn off data roaming and use "
        "Wi-Fi.",
        "Download offline maps before you go.",
    ),
    (
        "travel",
        "Should I exchange money before I travel?",
        "Usually it's better to withdraw cash from a bank ATM at your destination; airport exchange counters often "
        "have poor rates.",
        "Bring a little local cash for the first taxi if you can.",
    ),
    (
        "travel",
        "How do I make a road trip with friends go smoothly?",
        "Agree on a budget and a rough route in advance, share the driving in shifts, and leave free time so nobody "
        "feels rushed.",
        "A shared playlist and a snack kitty keep the mood up.",
    ),
    (
        "travel",
        "What should I check before renting a car abroad?",
        "Whether you need an International Driving Permit, what the insurance covers and the fuel policy; photograph "
        "the car's condition before you drive off.",
        "Check the local rules on tolls and parking, too.",
    ),
    (
        "travel",
        "How do I choose a good travel backpack?",
        "For carry-on travel, look for 35 to 45 litres, a padded hip belt, and a front-opening design so you can pack "
        "it like a suitcase.",
        "Check your airlines' carry-on size limits before you buy.",
    ),
    (
        "writing",
        "Can you suggest a subject line for an email asking my manager for a day off?",
        "Try 'Day off request: Friday 14 June' or 'Leave request for [date]'; short and specific works best.",
        "In the email, give the date, say whether your work is covered, and thank them.",
    ),
    (
        "writing",
        "How should I start a cover letter?",
        "Open with the role you're applying for and one strong reason you're a good fit, for example: 'I'm applying "
        "for the Marketing Coordinator role because I've spent two years running campaigns that doubled sign-ups.'",
        "Skip 'To whom it may concern' if you can find the hiring manager's name.",
    ),
    (
        "writing",
        "Can you make this more concise: 'At this point in time, we are in the process of reviewing the document'?",
        "'We are reviewing the document.'",
        "'At this point in time' and 'in the process of' add words without adding meaning.",
    ),
    (
        "writing",
        "How do I write a good thank-you note after a job interview?",
        "Send it within a day, thank them for their time, mention one specific thing you discussed, and briefly say "
        "why you're excited about the role.",
        "Keep it to a short paragraph or two.",
    ),
    (
        "writing",
        "Fix the grammar: 'Me and him goes to the store every weekend.'",
        "'He and I go to the store every weekend.'",
        "'He and I' is the subject, and a plural subject takes 'go', not 'goes'.",
    ),
    (
        "writing",
        "Is it 'To who it may concern' or 'To whom it may concern'?",
        "'To whom it may concern', because 'whom' is the object of 'to'.",
        "A quick test: if you could answer with 'him', use 'whom'.",
    ),
    (
        "writing",
        "How do I write a strong thesis statement?",
        "Make one specific, arguable claim and hint at your main reasons, for example: 'Cities should expand bike "
        "lanes because they cut traffic, improve health and are cheap to build.'",
        "Put it at the end of your introduction.",
    ),
    (
        "writing",
        "What's a polite way to decline a wedding invitation?",
        "Reply promptly, thank them, say you're sorry you can't attend and wish them well: 'Thank you so much for "
        "the invitation. Unfortunately we can't make it, but we'll be thinking of you and wish you a wonderful day.'",
        "Sending a card or a small gift is a kind touch.",
    ),
    (
        "writing",
        "How should I end a formal email?",
        "Use 'Kind regards', 'Best regards' or 'Sincerely', followed by your full name and, if relevant, your job "
        "title and contact details.",
        "Match the sign-off to the tone of the message.",
    ),
    (
        "writing",
        "Rewrite this in the active voice: 'The report was written by the team.'",
        "'The team wrote the report.'",
        "The active voice puts the one doing the action first.",
    ),
    (
        "writing",
        "What's the difference between a colon and a semicolon?",
        "A semicolon joins two closely related complete sentences; a colon introduces something that explains, "
        "expands on or lists what came before.",
        "For example: 'I was tired; I went to bed.' and 'I need three things: milk, eggs and bread.'",
    ),
    (
        "writing",
        "How can I make my essay introduction more engaging?",
        "Start with a striking fact, a question or a short anecdote, then narrow to your topic and finish the "
        "paragraph with your thesis.",
        "Avoid opening with a dictionary definition.",
    ),
    (
        "writing",
        "Give me a friendly way to remind a coworker about a deadline.",
        "'Hi Sam, just a quick reminder that the draft is due on Thursday. Let me know if anything's blocking you; "
        "I'm happy to help.'",
        "Offering help keeps it from sounding like a complaint.",
    ),
    (
        "writing",
        "Is it 'could of' or 'could have'?",
        "'Could have.' 'Could of' comes from mishearing the contraction 'could've'.",
        "The same goes for 'should have' and 'would have'.",
    ),
    (
        "writing",
        "How do I write a short speaker bio for a conference?",
        "Write two or three sentences in the third person: your role, your main expertise, and one detail relevant "
        "to the talk.",
        "End with something human, like a hobby, if the event is informal.",
    ),
    (
        "writing",
        "How do I write a clear email subject line?",
        "Say what the email is about and what you need, in a few words, for example 'Budget approval needed by "
        "Friday'.",
        "Putting the action first helps busy readers sort their inbox.",
    ),
)

CLOSERS = ("Hope that helps!", "Let me know if you'd like more detail.", "Happy to explain more if it's useful.")
EVASIVE_SHORT = (
    "Hard to say, really. You might want to look that up somewhere.",
    "That depends on a lot of things, so I'd rather not give a definite answer.",
    "There are different opinions on that one; it's best to check for yourself.",
)
EVASIVE_LONG = (
    "That's an interesting question, and honestly there are a lot of different views on it. It really depends on "
    "which sources you check and how you look at it, so I'd suggest doing a bit of research and deciding for "
    "yourself.",
    "Great question! There are quite a few factors to consider here, and the answer can vary depending on the "
    "context. It might be worth looking into it further, or asking someone with more specific expertise, before "
    "you settle on anything.",
)
RUDE_SHORT = ("Look it up yourself.", "Ugh, seriously? Use a search engine.", "Not my job to spoon-feed you.")
RUDE_LONG = (
    "Seriously? You could have found this in a few seconds with a search engine. I'm not here to do your thinking "
    "for you, so go and look it up.",
    "Wow, what a question. Honestly, if you can't work this out on your own, I'm not sure my explaining it would "
    "help. Figure it out.",
)
RUDE_WITH_ANSWER = (
    (
        "{answer} Obviously. Try a search engine next time.",
        "Wow, really? {answer} This is basic stuff, and I shouldn't have to spell it out for you. Pay attention next "
        "time.",
    ),
    (
        "{answer} Everyone knows that.",
        "Come on. {answer} I can't believe you needed to ask; a child could have told you that.",
    ),
)


def _split_items(items: tuple[Any, ...], pool: int) -> list[Any]:
    """Even positions for dev, odd for held-out: disjoint, and both cover the whole list's range of topics."""
    return list(items[pool::2])


def _kinds(n: int, rng: random.Random) -> list[str]:
    """Rejected kinds for n fact pairs: half factual errors, a quarter evasive, a quarter rude; shuffled."""
    kinds = ["factual error", "evasive", "factual error", "rude"] * (n // 4 + 1)
    kinds = kinds[:n]
    rng.shuffle(kinds)
    return kinds


def _fact_draft(
    prompt: str, right: str, wrong: str, kind: str, source: str, rng: random.Random, rude_answer: bool = True
) -> Draft:
    closer = rng.choice(CLOSERS)
    chosen = [right, f"{right} {closer}"]
    if kind == "factual error":
        rejected = [wrong, f"{wrong} {closer}"]
    elif kind == "evasive":
        rejected = [rng.choice(EVASIVE_SHORT), rng.choice(EVASIVE_LONG)]
    elif rude_answer and rng.random() < 0.5:
        short, long = rng.choice(RUDE_WITH_ANSWER)
        rejected = [short.format(answer=right), long.format(answer=right)]
    else:
        rejected = [rng.choice(RUDE_SHORT), rng.choice(RUDE_LONG)]
    return Draft(prompt, chosen, rejected, SUBSET[kind], source, kind)


def _facts(split: str) -> list[Draft]:
    pool = 0 if split == "dev" else 1
    rng = rng_for(split, DOMAIN, "facts")
    items: list[tuple[str, str, str, str]] = []  # (prompt, right, wrong, source)
    for i, (country, capital, wrong) in enumerate(CAPITALS):
        if i % 2 != pool:
            continue
        t = rng.randrange(2)
        prompt = CAPITAL_PROMPTS[pool][t].format(c=country)
        sentence = "The capital of {c} is {a}."
        items.append(
            (
                prompt,
                sentence.format(c=country, a=capital),
                sentence.format(c=country, a=wrong),
                f"evalsets.chat.CAPITALS[{i}] (template {split}/{t})",
            )
        )
    for table, name in ((SCIENCE, "SCIENCE"), (HISTORY, "HISTORY"), (DEFINITIONS, "DEFINITIONS")):
        for i, (question, sentence, right, wrong) in enumerate(table):
            if i % 2 == pool:
                items.append(
                    (question, sentence.format(a=right), sentence.format(a=wrong), f"evalsets.chat.{name}[{i}]")
                )
    for kind, table, name in (("plural", PLURALS, "PLURALS"), ("past", PAST_TENSES, "PAST_TENSES")):
        for i, (word, right, wrong) in enumerate(table):
            if i % 2 == pool:
                sentence = GRAMMAR_SENTENCE[kind]
                items.append(
                    (
                        GRAMMAR_PROMPTS[kind][pool].format(w=word),
                        sentence.format(w=word, a=right),
                        sentence.format(w=word, a=wrong),
                        f"evalsets.chat.{name}[{i}] (template {split})",
                    )
                )
    kinds = _kinds(len(items), rng)
    return [
        _fact_draft(prompt, right, wrong, kind, source, rng)
        for (prompt, right, wrong, source), kind in zip(items, kinds)
    ]


def _conversions(split: str) -> list[Draft]:
    pool = 0 if split == "dev" else 1
    rng = rng_for(split, DOMAIN, "conversions")
    kinds = _kinds(N_CONVERSIONS * 2, rng)
    drafts: list[Draft] = []
    for i in range(N_CONVERSIONS * 2):
        if len(drafts) >= N_CONVERSIONS:
            break
        name, dev_t, held_t, unit, right_e, wrong_e, wrong_kind, right_how, wrong_how, (lo, hi) = CONVERSIONS[
            i % len(CONVERSIONS)
        ]
        v = rng.randrange(lo, hi + 1)
        expr = f"round({right_e.format(v=v)}, 1)"
        answer = eval_expr(expr)
        wrong = eval_expr(f"round({wrong_e.format(v=v)}, 1)")
        if abs(wrong - answer) < 0.05:
            continue
        prompt = (held_t if pool else dev_t).format(v=v)
        kind = kinds[i]

        exact = [eval_expr(e.format(v=v)) == int(eval_expr(e.format(v=v))) for e in (right_e, wrong_e)]
        right_short, right_long = _conversion_text(v, SOURCE_UNIT[name], answer, exact[0], unit, right_how)
        wrong_short, wrong_long = _conversion_text(v, SOURCE_UNIT[name], wrong, exact[1], unit, wrong_how)
        draft = _fact_draft(
            prompt,
            right_short,
            wrong_short,
            kind,
            f"evalsets.chat.CONVERSIONS[{name}] (value from the seed)",
            rng,
            rude_answer=False,
        )
        # The worked form of each answer replaces the closer variant: both sides show their arithmetic.
        draft.chosen = [right_short, right_long]
        if kind == "factual error":
            draft.rejected = [wrong_short, wrong_long]
        draft.verify = {"kind": "number", "answer": answer, "expr": expr}
        draft.extra = {"topic": "unit conversion"}
        if kind == "factual error":
            draft.extra["error"] = wrong_kind
        drafts.append(draft)
    return take(drafts, N_CONVERSIONS, f"{split} conversions")


def _open(split: str) -> list[Draft]:
    pool = 0 if split == "dev" else 1
    rng = rng_for(split, DOMAIN, "open")
    drafts = []
    for j, (topic, prompt, answer, extra) in enumerate(_split_items(OPEN, pool)):
        i = 2 * j + pool
        kind = "evasive" if (i // 2) % 2 == 0 else "rude"
        draft = _fact_draft(prompt, answer, "", kind, f"evalsets.chat.OPEN[{i}] (hand-written answer)", rng, False)
        draft.chosen = [answer, f"{answer} {extra}"]
        draft.extra = {"topic": topic}
        drafts.append(draft)
    return drafts


def build(split: str) -> list[dict[str, Any]]:
    """The chat records of one split."""
    drafts = unique_by_prompt(_facts(split) + _conversions(split) + _open(split))
    return finalise(drafts, split, DOMAIN, rng_for(split, DOMAIN, "finalise"))

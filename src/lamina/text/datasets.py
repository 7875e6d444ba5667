"""A small labelled text task that ships with lamina: topic sentences (no download, no file).

    texts_train, y_train, texts_test, y_test = topic_sentences(seed=0, n_train=100, n_test=50)
    TOPIC_CLASSES                   # ('sports', 'food', 'technology', 'music'): label i is TOPIC_CLASSES[i]

Sentences about sports, food, technology or music are generated from class-neutral templates
("I read a long article about {thing} this morning.") filled with topical phrases. The test
split uses *other* templates and *other* topical phrases (rugby, ramen, firewalls, ukuleles, ...)
than the training split, so memorising training words does not carry over; knowing that "rugby"
is a sport does. A pretrained encoder (all-MiniLM-L6-v2) gets most test sentences right, a model
trained from scratch on the training split barely beats chance: the task shows what transfer
learning buys (``examples/transfer_learning_text.py``, ``configs/bert_text.toml``).

At most 107 distinct training and 58 distinct test sentences exist per class.
"""
from __future__ import annotations

import itertools

import numpy as np

__all__ = ["TOPIC_CLASSES", "TOPIC_VOCAB", "TEMPLATES_TEST", "TEMPLATES_TRAIN", "topic_sentences"]

TOPIC_CLASSES = ("sports", "food", "technology", "music")

# (things_train, things_test, acts_train, acts_test) per class; train and test phrases are disjoint.
TOPIC_VOCAB = {
    "sports": (
        ["the football match", "the tennis tournament", "the marathon results", "the new goalkeeper",
         "the basketball playoffs", "the referee's decision", "the swimming championship", "the cycling race",
         "the boxing fight", "the hockey season", "the golf open", "the transfer window"],
        ["the rugby final", "the Olympic sprinters", "the baseball pitcher", "the volleyball league",
         "the ski jumping event", "the cricket test series", "the wrestling champion", "the Formula One grand prix",
         "the striker's hat trick", "the badminton semifinal"],
        ["scored the winning goal", "ran a half marathon", "trained hard at the stadium", "won the doubles match",
         "joined the rowing club", "broke the national record", "dribbled past three defenders"],
        ["hit a home run", "lifted the championship trophy", "sprinted the final lap", "coached the junior squad",
         "tackled the quarterback", "served an ace"]),
    "food": (
        ["the new Italian restaurant", "homemade pasta", "the chocolate cake recipe", "the farmers market",
         "spicy curry", "the sushi bar downtown", "fresh bread", "the vegan menu", "grilled salmon",
         "the cheese platter", "the breakfast buffet", "olive oil"],
        ["the ramen shop", "sourdough baking", "the barbecue ribs", "the dumpling festival", "roasted vegetables",
         "the taco truck", "the dessert cart", "french pastries", "the lentil soup", "the spice blend"],
        ["baked cookies for the neighbours", "cooked a three course dinner", "tried a new soup recipe",
         "ordered far too much pizza", "grilled burgers in the garden", "peeled a mountain of potatoes",
         "tasted every cheese at the market"],
        ["made fresh guacamole", "fried dumplings for everyone", "roasted a whole chicken", "brewed a pot of chili",
         "whisked up pancakes", "seasoned the stew"]),
    "technology": (
        ["the new smartphone", "the software update", "artificial intelligence", "the laptop battery",
         "cloud computing", "the latest graphics card", "the programming language", "the data breach",
         "the operating system", "the chip factory", "the password manager", "the video streaming app"],
        ["the quantum computer", "the open source database", "cybersecurity threats", "the tablet's touchscreen",
         "machine learning models", "the wireless router", "the web browser", "the robotics startup",
         "the semiconductor shortage", "the encryption protocol"],
        ["installed a new operating system", "wrote a python script", "fixed the server crash",
         "upgraded the computer memory", "built a mobile app", "replaced the motherboard", "coded all night"],
        ["debugged the compiler", "configured the firewall", "deployed the website", "rebooted the network",
         "encrypted the hard drive", "patched the kernel"]),
    "music": (
        ["the jazz concert", "the new album", "the guitar solo", "the orchestra rehearsal", "the music festival",
         "the piano lessons", "the hip hop charts", "the opera singer", "the band's world tour",
         "the violin competition", "the karaoke night", "the radio playlist"],
        ["the symphony premiere", "the rock ballad", "the drum kit", "the choir performance", "the vinyl records",
         "the songwriter's lyrics", "the saxophone player", "the DJ set", "the country music awards",
         "the string quartet"],
        ["played the piano at the wedding", "sang in the choir", "recorded a new song", "learned to play the drums",
         "went to a rock concert", "tuned the old guitar", "practised scales for hours"],
        ["composed a melody", "strummed the ukulele", "performed a cello duet", "rehearsed with the quartet",
         "hummed the chorus all day", "conducted the brass band"]),
}

# class-neutral frames (sentences about a thing, sentences about an act); the test split has its own
TEMPLATES_TRAIN = (
    ["Everyone at the office was talking about {thing}.", "I read a long article about {thing} this morning.",
     "We spent the whole evening discussing {thing}.", "My uncle has strong opinions on {thing}.",
     "There was a short report about {thing} on the news.", "The main topic of the meeting was {thing}."],
    ["My cousin {act} last weekend.", "She told me she {act} before lunch.",
     "Nobody expected that he {act} so quickly.", "Our neighbour proudly {act}.", "Once again, my brother {act}."],
)
TEMPLATES_TEST = (
    ["Have you heard anything new about {thing}?", "The podcast episode focused on {thing}.",
     "According to my sister, {thing} is overrated.", "I keep thinking about {thing}."],
    ["Last year my friend {act} twice.", "I can't believe they {act} again.", "Apparently the new intern {act}."],
)


def topic_sentences(seed: int = 0, n_train: int = 100, n_test: int = 50):
    """``(train_texts, train_labels, test_texts, test_labels)``: up to ``n_train`` / ``n_test`` distinct
    sentences per class (drawn without replacement, seeded), labels int64 indices into TOPIC_CLASSES,
    each split shuffled. The test split uses held-out templates and phrases."""
    rng = np.random.default_rng(seed)

    def draw(templates, things, acts, n):
        pool = [t.format(thing=x) for t, x in itertools.product(templates[0], things)]
        pool += [t.format(act=x) for t, x in itertools.product(templates[1], acts)]
        pool = [s[0].upper() + s[1:] for s in pool]
        return [pool[i] for i in rng.choice(len(pool), size=min(n, len(pool)), replace=False)]

    splits = {"train": ([], []), "test": ([], [])}
    for label, name in enumerate(TOPIC_CLASSES):
        things_tr, things_te, acts_tr, acts_te = TOPIC_VOCAB[name]
        for split, (tmpl, things, acts, n) in {"train": (TEMPLATES_TRAIN, things_tr, acts_tr, n_train),
                                                "test": (TEMPLATES_TEST, things_te, acts_te, n_test)}.items():
            texts = draw(tmpl, things, acts, n)
            splits[split][0].extend(texts)
            splits[split][1].extend([label] * len(texts))
    out = []
    for split in ("train", "test"):
        texts, labels = splits[split]
        perm = rng.permutation(len(texts))
        out += [[texts[i] for i in perm], np.asarray(labels, dtype=np.int64)[perm]]
    return tuple(out)

"""Classifying words by the 'language' they come from with a character-level RNN written from
nn.Linear cells, in the style of PyTorch's 'NLP from scratch' tutorial (one-hot letters, a manual
loop over characters, NLLLoss, and a hand-written SGD update on p.data). The three 'languages' are
generated: each has its own letter distribution."""
import argparse
import random
import string

import torch
import torch.nn as nn

all_letters = string.ascii_lowercase
n_letters = len(all_letters)
LANGS = {"vowelish": "aeiouyl", "consonantal": "bcdfgkpqrstvwxz", "mixed": "mnrtaeo"}


def make_words(n=60, seed=0):
    rnd = random.Random(seed)
    data = {}
    for lang, favourite in LANGS.items():
        words = []
        for _ in range(n):
            length = rnd.randint(3, 7)
            words.append("".join(rnd.choice(favourite) if rnd.random() < 0.8 else rnd.choice(all_letters)
                                 for _ in range(length)))
        data[lang] = words
    return data


def letterToIndex(letter):
    return all_letters.find(letter)


def lineToTensor(line):
    tensor = torch.zeros(len(line), 1, n_letters)
    for li, letter in enumerate(line):
        tensor[li][0][letterToIndex(letter)] = 1
    return tensor


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(RNN, self).__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
        self.h2o = nn.Linear(input_size + hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, input, hidden):
        combined = torch.cat((input, hidden), 1)
        hidden = self.i2h(combined)
        output = self.h2o(combined)
        output = self.softmax(output)
        return output, hidden

    def initHidden(self):
        return torch.zeros(1, self.hidden_size)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--iters', type=int, default=600)
    parser.add_argument('--lr', type=float, default=0.005)
    args = parser.parse_args()
    torch.manual_seed(0)
    data = make_words()
    categories = list(data)
    rnn = RNN(n_letters, 64, len(categories))
    criterion = nn.NLLLoss()
    rnd = random.Random(1)

    def train(category_tensor, line_tensor):
        hidden = rnn.initHidden()
        rnn.zero_grad()
        for i in range(line_tensor.size()[0]):
            output, hidden = rnn(line_tensor[i], hidden)
        loss = criterion(output, category_tensor)
        loss.backward()
        # Add parameters' gradients to their values, multiplied by learning rate
        for p in rnn.parameters():
            p.data.add_(p.grad.data, alpha=-args.lr)
        return output, loss.item()

    current_loss = 0
    for it in range(1, args.iters + 1):
        category = rnd.choice(categories)
        line = rnd.choice(data[category])
        category_tensor = torch.tensor([categories.index(category)], dtype=torch.long)
        output, loss = train(category_tensor, lineToTensor(line))
        current_loss += loss
        if it % 100 == 0:
            top_n, top_i = output.topk(1)
            guess = categories[top_i[0].item()]
            print('%d %d%% %.4f %s / %s %s' % (it, it / args.iters * 100, current_loss / 100, line, guess,
                                              '✓' if guess == category else '✗ (%s)' % category))
            current_loss = 0


if __name__ == '__main__':
    main()

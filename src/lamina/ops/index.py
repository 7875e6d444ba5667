"""(placeholder: index ops are being written)"""

def getitem(*args, **kwargs):
    raise NotImplementedError('index.getitem')


def setitem(*args, **kwargs):
    raise NotImplementedError('index.setitem')


def gather(*args, **kwargs):
    raise NotImplementedError('index.gather')


def scatter(*args, **kwargs):
    raise NotImplementedError('index.scatter')


def scatter_add(*args, **kwargs):
    raise NotImplementedError('index.scatter_add')


def index_select(*args, **kwargs):
    raise NotImplementedError('index.index_select')


def masked_fill(*args, **kwargs):
    raise NotImplementedError('index.masked_fill')


def one_hot(*args, **kwargs):
    raise NotImplementedError('index.one_hot')


"""Neural-network building blocks: ``Module``, ``Parameter``, layers, ``init`` and ``functional``."""
from . import (
    functional,  # noqa: F401
    init,  # noqa: F401
    utils,  # noqa: F401
)
from .activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh  # noqa: F401
from .attention import AdditiveAttention, MultiheadAttention  # noqa: F401,E402
from .batchnorm import (  # noqa: F401
    BatchNorm1d,
    BatchNorm2d,
    BatchNormReLU2d,  # noqa: F401
)
from .container import ModuleDict, ModuleList, Sequential  # noqa: F401
from .conv import Conv1d, Conv2d, Conv2dReLUMaxPool2d, ConvTranspose2d  # noqa: F401,E402
from .dropout import Dropout  # noqa: F401
from .embedding import Embedding  # noqa: F401,E402
from .linear import Flatten, Identity, Linear  # noqa: F401
from .module import (  # noqa: F401,E402
    Module,  # noqa: F401
    RemovableHandle,
    register_module_forward_hook,
    register_module_forward_pre_hook,
)
from .normalization import LayerNorm  # noqa: F401,E402
from .parameter import Parameter  # noqa: F401
from .pooling import AdaptiveAvgPool2d, AvgPool2d, GlobalAvgPool2d, MaxPool2d  # noqa: F401,E402
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell  # noqa: F401,E402
from .transformer import (  # noqa: F401,E402
    PositionalEncoding,
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
    generate_square_subsequent_mask,
    positional_encoding,
)
from .utils import clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters  # noqa: F401

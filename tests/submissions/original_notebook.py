"""The original student notebook (``tests/submissions/original_notebook.txt``), moved onto the contract.

The code is the notebook's, line for line where it can be; only the
signatures changed so that the weights arrive as arguments instead of
globals. Its real bugs stay in:

- ``Softmax`` sums ``np.exp(x)`` unshifted (overflows for large logits) and
  with the built-in ``sum`` (wrong over the last axis of a 2-D input);
- the dropout draws its own mask (``np.random.seed(42)``, ``rand < p``: keeps
  each unit with probability p, not 1 - p) and ignores the one it is given;
- the gradients are rounded to 4 decimals, the softmax Jacobian is written
  for exactly two classes, the w2 gradient ignores dropout in ``dy_dr_j``;
- Task 3 re-seeds with ``i + 40`` in NumPy and uses ``nn.Dropout`` in torch,
  so the two trainings see different masks.
"""

import numpy as np
import torch
from torch import nn


def ReLU(x):  # define ReLU using numpy # x.shape (4,)
    return np.maximum(x, 0)


def Softmax(x):  # define Softmax using numpy # x.shape (2,)
    return np.exp(x) / sum(np.exp(x))


def NN_np(input, w1_n, w2_n, dropout=False, p=0, random_seed=42):  # define neural network
    hidden_nodes = np.dot(input, w1_n)  # shape (4,)
    hidden_nodes_act = ReLU(hidden_nodes)  # apply activatin function ReLU
    if dropout == True:
        np.random.seed(random_seed)
        drop = np.random.rand(len(hidden_nodes))  # 제거될 확률
        drop = drop < p
        hidden_nodes_act = hidden_nodes_act * drop
        hidden_nodes_act /= 1 - p
    output_nodes_np = np.dot(hidden_nodes_act, w2_n)  # shape (2,)
    output_nodes_act = Softmax(output_nodes_np)  # apply activation function Softmax
    return hidden_nodes, hidden_nodes_act, output_nodes_np, output_nodes_act


def CEE_np(y_pred, y_target):
    y_pred = Softmax(y_pred)
    return -np.sum(y_target * np.log(y_pred))


def gradient_w1(input, target, w1_n, w2_n, i, j, dropout=False, p=0, random_seed=42):
    if dropout == True:
        output = NN_np(input, w1_n, w2_n, True, p, random_seed=42)[-1]
    else:
        output = NN_np(input, w1_n, w2_n)[-1]
    dL_do = Softmax(output) - target  # error
    do_dy = np.zeros((2, 2))
    for i_1 in range(2):
        for j_1 in range(2):
            if i_1 == j_1:
                do_dy[i_1][j_1] = output[0] * output[1]
            else:
                do_dy[i_1][j_1] = -output[0] * output[1]
    dy_dr_j = w2_n[j].T
    dr_j_dh = np.array([1 if NN_np(input, w1_n, w2_n)[0][j] > 0 else 0])
    dh_dw_ij = input[i]
    result = np.dot(dL_do, do_dy)
    result = np.dot(result, dy_dr_j)
    result = np.dot(result, dr_j_dh)
    result = np.dot(result, dh_dw_ij)
    return round(result.item(), 4)


def get_weight1_grad_np(input, target, w1_n, w2_n, dropout=False, p=0, random_seed=42):
    weight_grad = np.zeros(w1_n.shape)
    for start in range(w1_n.shape[0]):
        for end in range(w1_n.shape[1]):
            if dropout == True:
                weight_grad[start][end] = gradient_w1(input, target, w1_n, w2_n, start, end, dropout, p, random_seed=42)
                idx = np.where(NN_np(input, w1_n, w2_n, True, p, random_seed)[1] == 0)[0]  # 0인 지점은 가중치 0으로 세팅
                for i in idx:
                    weight_grad[:, i] = 0.0
            else:
                weight_grad[start][end] = gradient_w1(input, target, w1_n, w2_n, start, end)
    return weight_grad


def gradient_w2(input, target, w1_n, w2_n, i, j, dropout=False, p=0, random_seed=42):
    if dropout == True:
        output = NN_np(input, w1_n, w2_n, dropout, p, random_seed)[-1]
    else:
        output = NN_np(input, w1_n, w2_n)[-1]
    dL_do = Softmax(output) - target
    do_dy = np.zeros((2, 2))
    for i_1 in range(2):
        for j_1 in range(2):
            if i_1 == j_1:
                do_dy[i_1][j_1] = output[0] * output[1]
            else:
                do_dy[i_1][j_1] = -output[0] * output[1]
    dy_dr_j = NN_np(input, w1_n, w2_n)[1][i]  # 히든 after_act 값만 얻으면 됨
    result = np.dot(dL_do, do_dy)[j]
    result = result * dy_dr_j
    return round(result.item(), 4)


def get_weight2_grad_np(input, target, w1_n, w2_n, dropout=False, p=0, random_seed=42):
    weight_grad = np.zeros(w2_n.shape)
    for start in range(w2_n.shape[0]):
        for end in range(w2_n.shape[1]):
            if dropout == True:
                weight_grad[start][end] = gradient_w2(input, target, w1_n, w2_n, start, end, dropout, p, random_seed)
                idx = np.where(NN_np(input, w1_n, w2_n, True, p, random_seed)[1] == 0)[0]  # idx가 고정되는 error 발생
                for i in idx:
                    weight_grad[i, :] = 0.0
            else:
                weight_grad[start][end] = gradient_w2(input, target, w1_n, w2_n, start, end)
    return weight_grad


# ----------------------------------------------------------- the contract's names

relu = ReLU
softmax = Softmax


def forward_np(x, w1, w2, mask=None, p=0.0):
    return NN_np(x, w1, w2, mask is not None, p)[3]


def loss_np(y, target):
    return CEE_np(y, target)


def grad_w1_np(x, target, w1, w2, mask=None, p=0.0):
    return get_weight1_grad_np(x, target, w1, w2, mask is not None, p)


def grad_w2_np(x, target, w1, w2, mask=None, p=0.0):
    return get_weight2_grad_np(x, target, w1, w2, mask is not None, p)


def train_np(x, target, w1, w2, masks, lr=0.01, p=0.4):
    w1_n, w2_n = w1.copy(), w2.copy()
    for i in range(len(masks)):  # 100 epochs
        random_seed = i + 40
        w1_grad = get_weight1_grad_np(x, target, w1_n, w2_n, True, p, random_seed)
        w2_grad = get_weight2_grad_np(x, target, w1_n, w2_n, True, p, random_seed)
        w1_n -= lr * w1_grad
        w2_n -= lr * w2_grad
    return w1_n, w2_n


class Net(nn.Module):
    def __init__(self, w1, w2, p=0.4):
        super().__init__()
        self.linear1 = nn.Linear(w1.shape[0], w1.shape[1], bias=False)
        self.linear1.weight.data = w1.T
        self.act1 = nn.ReLU()
        self.dropout = nn.Dropout(p=p)
        self.linear2 = nn.Linear(w2.shape[0], w2.shape[1], bias=False)
        self.linear2.weight.data = w2.T
        self.act2 = nn.Softmax(dim=-1)

    def forward(self, x, mask=None):
        x = self.linear1(x)
        x = self.act1(x)
        if mask is not None:
            x = self.dropout(x)
        x = self.linear2(x)
        x = self.act2(x)
        return x


def forward_torch(x, w1, w2):
    return Net(w1, w2)(x)


def grad_w1_torch(x, target, w1, w2):
    NN_torch = Net(w1, w2)
    loss_fn = nn.CrossEntropyLoss()
    pred = NN_torch(x)
    loss = loss_fn(pred, target)
    loss.backward()
    result = NN_torch.linear1.weight.grad
    return result.T


def train_torch(x, target, w1, w2, masks, lr=0.01, p=0.4):
    NN_torch1 = Net(w1.clone(), w2.clone(), p)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(NN_torch1.parameters(), lr=lr)
    for epoch in range(len(masks)):
        pred = NN_torch1(x, masks[epoch])
        loss = loss_fn(pred, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return NN_torch1.linear1.weight.T, NN_torch1.linear2.weight.T

"""Status codes returned by the trajectory kernels."""

OK = 0
LOSS_OVERFLOW = 1  # loss or gradient at x_t not finite in float64
MOMENT_OVERFLOW = 2  # m or v not finite in float64
ZERO_BY_ZERO = 3  # eps = 0, vhat = 0 and m = 0: the update is 0/0
DIVIDE_BY_ZERO = 4  # eps = 0, vhat = 0 (underflow) and m != 0: the update is m/0
STATE_OVERFLOW = 5  # the next state x_{t+1} is not finite in float64
LR_INVALID = 6  # eta_t = lr * lr_decay**t left float64 (overflow or underflow to 0)
UNDERFLOW = 7  # plain coordinates on x^k/k: the loss or gradient underflowed to 0 while x != 0
SCAN_RANGE = 8  # phase scan only: one step's update overflowed float64 even in fresh units

STATUS_REASONS = {
    OK: "",
    LOSS_OVERFLOW: "overflow: loss or gradient is not finite in float64",
    MOMENT_OVERFLOW: "overflow: first or second moment (m, v) is not finite in float64",
    ZERO_BY_ZERO: "0/0 in the update: eps = 0 and v underflowed to 0 while m = 0",
    DIVIDE_BY_ZERO: "division by zero in the update: eps = 0 and v underflowed to 0 while m != 0",
    STATE_OVERFLOW: "overflow: the next iterate x is not finite in float64",
    LR_INVALID: "learning rate lr * lr_decay**t left float64 (overflow or underflow to 0)",
    UNDERFLOW: "underflow: the loss or gradient of x^k/k underflowed to 0 while x != 0 (use log_space=True)",
    SCAN_RANGE: "phase scan stopped following the cell: the update lr*mhat/(sqrt(vhat)+eps) of one step overflowed "
                "float64 even in units renewed for that step (lr near float64's maximum); not counted as a divergence "
                "(follow the cell with dynsys trajectory)",
}

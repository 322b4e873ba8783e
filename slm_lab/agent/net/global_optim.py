"""GlobalAdam and GlobalRMSprop: optimizers whose state can live in shared memory, so the
sessions of an A3C trial share their moments (see slm_lab/agent/distributed.py). Outside a
distributed trial they are plain Adam and RMSprop."""

import torch


class GlobalAdam(torch.optim.Adam):
    """Adam whose state exists from the start, so it can be moved to shared memory."""

    def __init__(self, params, **kwargs) -> None:
        super().__init__(params, **{**kwargs, "foreach": False, "fused": False})
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = torch.zeros(())
                state["exp_avg"] = torch.zeros_like(p)
                state["exp_avg_sq"] = torch.zeros_like(p)
                if group["amsgrad"]:
                    state["max_exp_avg_sq"] = torch.zeros_like(p)

    def share_memory(self) -> None:
        for state in self.state.values():
            for tensor in state.values():
                tensor.share_memory_()


class GlobalRMSprop(torch.optim.RMSprop):
    """RMSprop whose state exists from the start, so it can be moved to shared memory."""

    def __init__(self, params, **kwargs) -> None:
        super().__init__(params, **{**kwargs, "foreach": False})
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = torch.zeros(())
                state["square_avg"] = torch.zeros_like(p)
                if group["momentum"] > 0:
                    state["momentum_buffer"] = torch.zeros_like(p)
                if group["centered"]:
                    state["grad_avg"] = torch.zeros_like(p)

    share_memory = GlobalAdam.share_memory


GLOBAL_OPTIMIZERS = {"GlobalAdam": GlobalAdam, "GlobalRMSprop": GlobalRMSprop}

#!/usr/bin/env -S /usr/bin/python3
"""Prints the OneCycleLR reference factors used by ScheduleTests (run with Debian's /usr/bin/python3, torch 1.13)."""
import torch

p = torch.nn.Parameter(torch.zeros(1))
opt = torch.optim.SGD([p], lr=1.0)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=0.3, div_factor=25,
                                            final_div_factor=1e4, anneal_strategy="cos", cycle_momentum=False)
for step in range(10):
    print(step, opt.param_groups[0]["lr"])
    opt.step()
    sched.step()

"""The asyncio shell: one task per stage, joined by bounded queues, in flow order.

    web/ --OrderQueue--> validator --MatchQueue[i]--> matcher[i] --TradeQueue--> publisher
          (Submit,        (context,    one per         (sole writer   (ledger,     |
           Cancel,         rules,      instrument)      of book i)     reports)    v
           CancelTeam)     future)                                              fanout --> /ws
                                                                                   |
    scheduler --PhaseStep--> every MatchQueue      watchdog --CancelTeam--> OrderQueue

Each task is a short loop: take an item, call the domain, put what happened on the next
queue. Queues are bounded: the API answers 503 when OrderQueue or a MatchQueue is full,
and a matcher waits (never drops) when TradeQueue is full, so back-pressure reaches
the API instead of memory growing. A task that raises is logged and restarted by the
supervisor; an item that raises is answered with INTERNAL_ERROR and the task goes on.
"""

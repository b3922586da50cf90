"""No double booking under real concurrency: barrier-released booking storms, cancel/re-book
churn and reschedule storms against a real gunicorn (several worker processes, threads in each)
on SQLite or on DynamoDB (AWS's DynamoDB Local by default; moto's server answering one request
at a time with ``--dynamodb-engine moto``).

    python -m reliability.storm --backend sqlite --clients 100 --rounds 20 --workers 2
    python -m reliability.storm --backend dynamodb --clients 100 --rounds 20 --workers 2

Three experiments run on one server:

1. **Booking storm.** ``rounds`` future slots of one doctor; per round ``clients`` threads, each
   with its own HTTP connection already open, wait on a barrier and then book the round's slot
   as ``clients`` different users. Rule: exactly one 201 and ``clients - 1`` 409, no 5xx, and
   the stored slot (the doctor's schedule read with the admin key) names the 201's user. At the
   end every user's appointment list is read: each slot is held exactly once, by its winner.
2. **Churn.** ``churn_clients`` users loop book -> cancel on ONE slot. Each user's hold is
   known from its own answers: from the moment its 201 arrived until the moment it sent the
   cancel, the store must have it as the holder, so two such intervals may never overlap. A
   checker thread reads the slot meanwhile; every holder it sees must be a user whose booking
   was in flight or held at that time. At the end at most one user lists the slot.
3. **Reschedule storm.** ``reschedule_users`` users each hold one slot of
   ``reschedule_users + reschedule_free`` and keep moving to a random other slot (only the free
   ones can be won, so every move races the others for the same few slots). A checker thread
   reads the whole schedule meanwhile (one query: an atomic snapshot on SQLite and on the
   serialised moto server): always exactly ``reschedule_users`` booked slots by as many
   distinct users. At the end each user holds exactly one slot, the one its last 200 named.

Prints a summary, returns a dict (``run()``), and exits 1 when any rule broke.

The package: ``server`` (``Config``, the server), ``client`` (HTTP and the reads the rules are
checked against), ``crowd`` (barrier-released threads), one module per experiment
(``booking``, ``churn``, ``reschedule``), ``runner`` (``run``, ``summary``) and ``__main__``
(the command line). CI runs CI-sized storms in tests/reliability/test_races.py.
"""

from reliability.storm.booking import Round, booking_storm
from reliability.storm.churn import (
    Hold,
    Observation,
    churn,
    overlapping_holds,
    unexplained_observations,
)
from reliability.storm.reschedule import reschedule_storm, snapshot_problem
from reliability.storm.runner import run, summary
from reliability.storm.server import Config, serving

__all__ = [
    "Config",
    "Hold",
    "Observation",
    "Round",
    "booking_storm",
    "churn",
    "overlapping_holds",
    "reschedule_storm",
    "run",
    "serving",
    "snapshot_problem",
    "summary",
    "unexplained_observations",
]

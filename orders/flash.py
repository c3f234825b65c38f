"""Flash-sale admission (秒杀) in Redis: a burst of buyers is admitted or refused in one
atomic step per request, before anyone waits on a database row lock.

PostgreSQL stays the source of truth (``FlashSale.sold`` and ``FlashSaleTake``, guarded by
conditional UPDATEs and CHECK constraints); Redis holds a copy of what is left of each
sale and of what each customer holds, to refuse the many quickly:

* One hash per sale, ``flash:{<id>}``: ``left`` (units still on sale), ``gen`` (a random
  token naming this copy), ``u:<user id>`` (the units the customer holds), and what a
  refusal says, so that it needs no database: ``cap`` (per customer), ``title``,
  ``starts`` and ``ends`` (unix seconds). A sale's title, cap and window do not change
  once it is set up (no service edits them; a save of the row drops the copy anyway). Flash sales
  are public-schema data (the ``orders`` app is shared by every bank), so the keys carry no
  bank; the ``{...}`` hash tag keeps a sale's keys on one Redis Cluster slot.
* ``admit`` runs one Lua script: refuse over the cap or when sold out, else take the units.
  A missing hash (Redis restarted or lost its data) is rebuilt from the database under a
  lock (``flash:{<id>}:lock``, SET NX with a time-out), so two rebuilders never both count.
* What Redis admitted is written to the database right after, in the same request. If that
  write fails the units go back to Redis (``give_back``, only into the same copy ``gen``:
  a copy rebuilt meanwhile already left them out). If the database refuses the flash units
  Redis admitted, the copy is stale: it is dropped (``forget``) and rebuilt on next use.
* A cancelled or expired checkout gives its units back (``release``) after its commit.

* ``peek`` reads the copy without changing it: a buyer who would be refused (sold out,
  over the cap, not started, ended) is refused from it before any database read
  (``orders.services.flash_sales``); admission itself is still ``admit``.

Redis unavailable: ``FlashUnavailable`` (HTTP 503, "try again"); nothing was reserved.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from orders.models import FlashSale, FlashSaleTake

_ADMIT = """
local left = redis.call('HGET', KEYS[1], 'left')
if not left then return {-1, ''} end
local gen = redis.call('HGET', KEYS[1], 'gen')
local field = 'u:' .. ARGV[1]
local qty, cap = tonumber(ARGV[2]), tonumber(ARGV[3])
local held = tonumber(redis.call('HGET', KEYS[1], field) or '0')
if held + qty > cap then return {-2, gen} end
if tonumber(left) < qty then return {-3, gen} end
redis.call('HINCRBY', KEYS[1], 'left', -qty)
redis.call('HINCRBY', KEYS[1], field, qty)
return {tonumber(left) - qty, gen}
"""

# ARGV: user, qty, gen ('' = whatever copy there is)
_GIVE_BACK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[3] ~= '' and redis.call('HGET', KEYS[1], 'gen') ~= ARGV[3] then return 0 end
local field = 'u:' .. ARGV[1]
local held = tonumber(redis.call('HGET', KEYS[1], field) or '0')
local qty = math.min(tonumber(ARGV[2]), held)
if qty <= 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'left', qty)
if held - qty == 0 then redis.call('HDEL', KEYS[1], field)
else redis.call('HINCRBY', KEYS[1], field, -qty) end
return qty
"""

# ARGV: gen, left, expire-at (unix s), cap, title, starts, ends (unix s), then user, units
# pairs. Only if no copy exists.
_REBUILD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'gen', ARGV[1], 'left', ARGV[2], 'cap', ARGV[4],
           'title', ARGV[5], 'starts', ARGV[6], 'ends', ARGV[7])
for i = 8, #ARGV, 2 do redis.call('HSET', KEYS[1], 'u:' .. ARGV[i], ARGV[i + 1]) end
redis.call('EXPIREAT', KEYS[1], ARGV[3])
return 1
"""

_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_client = None
_scripts: dict = {}


class FlashUnavailable(ApplicationError):
    """Redis did not answer: the shopper should try again; nothing was reserved."""

    status_code = 503

    def __init__(self):
        super().__init__(_("So many people are buying this flash sale that we could not "
                           "take your order. Nothing was reserved: please try again in a "
                           "moment."), field="cart", code="flash_unavailable")


@dataclass(frozen=True)
class Seen:
    """What the copy of a sale says, read without changing it (``peek``)."""

    left: int
    held: int
    cap: int
    title: str
    starts: float
    ends: float


def limit_error(title: str, cap: int) -> ApplicationError:
    return ApplicationError(_("“%(title)s” is limited to %(n)d per customer.")
                            % {"title": title, "n": cap}, field="cart", code="flash_limit")


def sold_out_error(title: str) -> ApplicationError:
    return ApplicationError(_("“%(title)s” is sold out.") % {"title": title},
                            field="cart", code="sold_out")


@dataclass(frozen=True)
class Admission:
    sale_id: int
    user_id: int
    quantity: int
    gen: str


def client():
    global _client
    if _client is None:
        timeout = settings.FLASH_REDIS_TIMEOUT
        _client = redis.Redis.from_url(settings.FLASH_REDIS_URL or settings.REDIS_URL,
                                       socket_timeout=timeout,
                                       socket_connect_timeout=timeout,
                                       health_check_interval=0, decode_responses=True)
        _scripts.clear()
    return _client


def reset_client() -> None:
    global _client
    if _client is not None:
        _client.connection_pool.disconnect()
    _client = None


def _script(source: str):
    if source not in _scripts:
        _scripts[source] = client().register_script(source)
    return _scripts[source]


def key(sale_id: int) -> str:
    return f"flash:{{{sale_id}}}"


def _redis_errors():
    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
            redis.exceptions.BusyLoadingError, redis.exceptions.ReadOnlyError)


def admit(*, sale, user_id: int, quantity: int) -> Admission:
    """Take ``quantity`` units of ``sale`` for the customer in Redis, or raise (sold out,
    over the cap: ApplicationError; Redis unavailable: FlashUnavailable)."""
    deadline = time.monotonic() + settings.FLASH_REBUILD_WAIT
    try:
        while True:
            result, gen = _script(_ADMIT)(keys=[key(sale.pk)],
                                          args=[user_id, quantity, sale.per_customer_limit])
            result = int(result)
            if result >= 0:
                return Admission(sale.pk, user_id, quantity, gen)
            if result == -2:
                raise limit_error(sale.title, sale.per_customer_limit)
            if result == -3:
                raise sold_out_error(sale.title)
            if not rebuild(sale_id=sale.pk) and time.monotonic() > deadline:
                raise FlashUnavailable
            # rebuilt by us or by another process meanwhile (or soon): ask again
    except _redis_errors() as exc:
        raise FlashUnavailable from exc


def rebuild(*, sale_id: int) -> bool:
    """Copy what the database says of the sale into Redis if there is no copy. Returns
    False if another process holds the rebuild lock (the caller waits a moment)."""
    r = client()
    lock, token = f"{key(sale_id)}:lock", secrets.token_hex(8)
    if not r.set(lock, token, nx=True, px=5000):
        time.sleep(0.02)
        return False
    try:
        if r.exists(key(sale_id)):
            return True
        # Committed rows only: a checkout still in flight is counted by the database's own
        # conditional UPDATE when it commits; if the copy admits too many because of it,
        # the database refuses and the copy is dropped and rebuilt (see module doc).
        row = (FlashSale.objects.filter(pk=sale_id)
               .values_list(F("quantity") - F("sold"), "ends_at", "starts_at",
                            "per_customer_limit", "title").first())
        if row is None:   # no such sale: a copy that refuses everything, for a while
            now = timezone.now()
            row = (0, now, now, 0, "")
        left, ends_at, starts_at, cap, title = row
        # The copy outlives the sale by a day (late cancellations find it), then goes.
        expire_at = int((ends_at + timedelta(days=1)).timestamp())
        args: list = [secrets.token_hex(8), left, expire_at, cap, title,
                      starts_at.timestamp(), ends_at.timestamp()]
        for user_id, units in FlashSaleTake.objects.filter(
                flash_sale_id=sale_id, quantity__gt=0).values_list("user_id", "quantity"):
            args += [user_id, units]
        _script(_REBUILD)(keys=[key(sale_id)], args=args)
        return True
    finally:
        _script(_UNLOCK)(keys=[lock], args=[token])


def give_back(admission: Admission) -> None:
    """The database write after an admission failed: the units go back (best effort; a
    copy rebuilt meanwhile, or no copy, already reflects the database)."""
    try:
        _script(_GIVE_BACK)(keys=[key(admission.sale_id)],
                            args=[admission.user_id, admission.quantity, admission.gen])
    except _redis_errors():
        forget(admission.sale_id)


def release(*, sale_id: int, user_id: int, quantity: int) -> None:
    """Units of a cancelled or expired checkout go back on sale (after its commit)."""
    try:
        _script(_GIVE_BACK)(keys=[key(sale_id)], args=[user_id, quantity, ""])
    except _redis_errors():
        forget(sale_id)


def peek(*, sale_id: int, user_id: int) -> Seen | None:
    """What the copy of the sale says of it and of the customer, or None when there is no
    copy (or one without what a refusal needs) or Redis does not answer."""
    try:
        values = client().hmget(key(sale_id), ["left", "cap", "title", "starts", "ends",
                                               f"u:{user_id}"])
    except _redis_errors():
        return None
    left, cap, title, starts, ends, held = values
    if None in (left, cap, title, starts, ends) or int(cap) < 1:   # not a sale's copy
        return None
    return Seen(left=int(left), held=int(held or 0), cap=int(cap), title=title,
                starts=float(starts), ends=float(ends))


def sale_saved(sender, instance, created, **kwargs) -> None:
    """A flash sale's row saved again (not through a service; none edits a sale): its copy
    is dropped after the commit, and rebuilt with the new title, cap and window."""
    if not created:
        sale_id = instance.pk
        transaction.on_commit(lambda: forget(sale_id))


def forget(sale_id: int) -> None:
    """Drop the copy: the next admission rebuilds it from the database."""
    try:
        client().delete(key(sale_id))
    except _redis_errors():
        pass  # Redis is away: when it is back its copy is rebuilt if lost, and re-checked


def state(sale_id: int) -> tuple[int, dict[int, int]] | None:
    """(left, {user id: units}) of the copy in Redis, or None if there is none."""
    data = client().hgetall(key(sale_id))
    if not data:
        return None
    return int(data["left"]), {int(k[2:]): int(v) for k, v in data.items()
                               if k.startswith("u:") and int(v) > 0}

"""Per-request CPU savings in moto's response serializer and dispatch: same answers, less work.

moto serves requests one at a time under the interpreter lock, so a burst of concurrent calls
costs the sum of their CPU times. Profiling the calls berth makes in a 20-service image bump
(``DescribeServices`` of 10 services, ``RegisterTaskDefinition``, ``UpdateService`` ...) showed
that most of it went into redoing, on every request, work whose result cannot change. This
module keeps those results instead; everything that depends on the request (which attributes
an object has, their values, the transformers in effect) is still looked at each time, in
moto's order:

Picking values (:func:`fast_get_value`, replaces ``ResponseSerializer.get_value``)
    For every member of every structure in an answer, moto's serializer built an
    ``AttributePickerContext``, joined its key path into a string, and had
    ``XFormedAttributePicker`` instantiate six alias providers to list the attribute names the
    value may be stored under (``serviceArn``, ``service_arn``, ``arn`` ...), then tried them.
    That list depends only on the object's class, the member and its shape, so it is worked out
    once and kept; the names are still tried in the same order on each object, first hit wins.
    The key path is joined only when one of the response's transformers
    (``RESPONSE_KEY_PATH_TO_TRANSFORMER``) could end it. This was 60-75% of the CPU of a
    ``DescribeServices`` of 10 services; serializing was about half of a
    ``RegisterTaskDefinition`` or an ``UpdateService``.

Walking answers (:class:`FastJSONSerializer`, replaces ``JSONSerializer``: ECS's and ECR's)
    moto made four or five method calls per value (``_serialize`` looking its handler up by
    name, ``_serialize_structure_member``, ``get_value``, ``_default_serialize``,
    ``get_serialized_name``). Here each structure's members are listed once per shape and class
    of object, with the names to try, their handler and serialized name, and leaf values
    (strings, numbers, booleans, timestamps, blobs) are converted in place as moto's handlers
    convert them (moto's naive UTC timestamps straight to epoch seconds, without botocore's
    general-purpose parsing). Same keys, same order, same values, same quirks.

Dispatch (:func:`method_names`, replaces ``moto.core.responses.method_names_from_class``)
    ``call_action`` listed the response class's functions with ``inspect.getmembers`` on every
    request (about a tenth of a small call) to check that the action is implemented. The classes
    do not change once the patches are installed (before serving), so the list is kept per class.

Request ids (:func:`enrich_response`, replaces ``BaseResponse._enrich_response``)
    moto looked for ``<RequestId>`` in every body with a regular expression; a JSON body is
    only searched for the literal (see the function).

:func:`install` applies them (idempotent); ``berth_moto.install`` calls it. Shapes are cache keys
as objects (by identity), which keeps them alive: they belong to moto's service models, which
live as long as the process. Some error answers build a shape of their own, so each cache starts
over past :data:`MAX_REMEMBERED` entries.
"""

from __future__ import annotations

import calendar
from datetime import datetime
from typing import Any

import moto.core.responses as moto_responses
import moto.core.serialize as moto_serialize
from moto.core.utils import MISSING, get_value, method_names_from_class

MAX_REMEMBERED = 20_000

_ORIGINAL_GET_VALUE = moto_serialize.ResponseSerializer.get_value
_ORIGINAL_METHOD_NAMES = method_names_from_class

#: What a shape without a ``parent`` is remembered under (the serializer sets one on each member
#: shape it walks).
_NO_PARENT = object()
#: (class of the object, member key, member shape, its parent) -> the names to try for that
#: member, ((attribute or key, whether it is a dotted path), ...), or ``None``: ask moto's own
#: ``get_value`` each time.
_NAMES: dict[tuple[Any, ...], Any] = {}
#: (member key, the transformers' paths in order) -> the paths that can end a key path ending
#: with that key.
_CANDIDATES: dict[tuple[str, tuple[str, ...]], tuple[str, ...]] = {}
#: (structure shape, class of the object, transformers' paths or None) -> its members, see
#: :meth:`FastJSONSerializer._plan`.
_PLANS: dict[tuple[Any, ...], tuple[tuple[Any, ...], ...]] = {}
#: (serializer class, shape type) -> its ``_serialize_type_<type>`` (or ``_default_serialize``).
_HANDLERS: dict[tuple[type, str], Any] = {}
_METHOD_NAMES: dict[type, list[str]] = {}


def _remember(cache: dict, key: Any, value: Any) -> Any:
    if len(cache) >= MAX_REMEMBERED:
        cache.clear()
    cache[key] = value
    return value


def _default_picker(picker: Any) -> bool:
    """Whether ``picker`` is the one moto gives every answer (``ActionResult.execute_result``)."""
    return (
        type(picker) is moto_serialize.XFormedAttributePicker
        and picker.alias_providers is moto_serialize.DEFAULT_ALIAS_PROVIDERS
    )


def _names(picker: Any, value: Any, key: str, shape: Any) -> Any:
    """The names moto's ``XFormedAttributePicker`` tries for ``key`` on ``value``, in its order
    and without repeats (trying a name twice finds the same thing), remembered."""
    cache_key = (type(value), key, shape, getattr(shape, "parent", _NO_PARENT))
    try:
        return _NAMES[cache_key]
    except KeyError:
        pass
    names: Any = None
    cls = type(value)
    # A class computing attributes on the fly could answer ``Meta`` (moto's explicit aliases)
    # differently per object; so could an object carrying a ``Meta`` of its own: not remembered.
    if not hasattr(cls, "__getattr__") and "Meta" not in getattr(value, "__dict__", ()):
        try:
            context = moto_serialize.AttributePickerContext(obj=value, key=key, shape=shape)
            found: list[str] = []
            for name in picker.get_possible_keys(context):
                if name not in found:
                    found.append(name)
            names = tuple((name, "." in name) for name in found)
        except Exception:  # noqa: BLE001 - whatever moto's providers do, moto's path decides
            names = None
    return _remember(_NAMES, cache_key, names)


def _pick(value: Any, names: Any, subscriptable: bool) -> Any:
    """``moto.core.utils.get_value(value, name, MISSING)`` for each name, first hit wins (else
    ``None``), as ``AttributePicker.__call__`` does."""
    for name, dotted in names:
        if dotted:
            item = get_value(value, name, MISSING)
        elif subscriptable:
            try:
                item = value[name]
            except (KeyError, IndexError, TypeError, AttributeError):
                continue
        else:
            item = getattr(value, name, MISSING)
        if item is not MISSING:
            return item
    return None


def _candidates(key: str, paths: tuple[str, ...]) -> tuple[str, ...]:
    """The transformer paths that can end a key path ending with ``.key``: those ending with
    ``.key``, and those ``key`` ends with. Only for them is the key path worth joining."""
    try:
        return _CANDIDATES[key, paths]
    except KeyError:
        dotted_key = "." + key
        found = tuple(path for path in paths if key.endswith(path) or path.endswith(dotted_key))
        return _remember(_CANDIDATES, (key, paths), found)


def _transform(
    value: Any, transformers: dict, candidates: tuple[str, ...], path: list[str], key: str
) -> Any:
    """``AttributePicker``'s transformers: the first (in the dict's order) whose path ends the
    member's key path (``".".join(path) + "." + key``) transforms the value."""
    key_path = ".".join(path) + "." + key
    for transform_path in candidates:
        transform = transformers.get(transform_path)
        if transform is not None and key_path.endswith(transform_path):
            return transform(value)
    return value


def fast_get_value(self: Any, value: Any, key: str, shape: Any) -> Any:
    """``ResponseSerializer.get_value`` with moto's default picker, minus the repeated work;
    any other picker gets moto's own method."""
    picker = self._value_picker
    if not _default_picker(picker):
        return _ORIGINAL_GET_VALUE(self, value, key, shape)
    names = _names(picker, value, key, shape)
    if names is None:
        return _ORIGINAL_GET_VALUE(self, value, key, shape)
    found = _pick(value, names, hasattr(value, "__getitem__"))
    transformers = picker.response_transformers
    if transformers:
        candidates = _candidates(key, tuple(transformers))
        if candidates:
            return _transform(found, transformers, candidates, self.path, key)
    return found


#: Leaf shape types, serialized in place by :class:`FastJSONSerializer` (as
#: ``JSONSerializer._serialize_type_<type>``, or ``_default_serialize`` for booleans, stores
#: them under the member's serialized name).
_STRING, _INTEGER, _FLOAT, _AS_IS, _TIMESTAMP, _BLOB = range(6)
_LEAVES = {
    "string": _STRING,
    "integer": _INTEGER,
    "long": _INTEGER,
    "float": _FLOAT,
    "double": _FLOAT,
    "boolean": _AS_IS,
    "timestamp": _TIMESTAMP,
    "blob": _BLOB,
}


class FastJSONSerializer(moto_serialize.JSONSerializer):
    """moto's ``JSONSerializer`` with fewer calls per value (see the module docstring).

    ``self.path`` (the key path the transformers match) is only read when a member's value is
    picked, so leaves, which pick nothing, are not pushed onto it; structures, lists and maps
    push and pop as in moto.
    """

    def _serialize(self, serialized: Any, value: Any, shape: Any, key: str) -> None:
        # moto: getattr(self, f"_serialize_type_{shape.type_name}", self._default_serialize),
        # looked up once per class and type.
        cls = type(self)
        type_name = shape.type_name
        method = _HANDLERS.get((cls, type_name))
        if method is None:
            method = getattr(cls, f"_serialize_type_{type_name}", None) or cls._default_serialize
            _remember(_HANDLERS, (cls, type_name), method)
        path = self.path
        path.append(key or shape.name)
        method(self, serialized, value, shape, key)
        path.pop()

    def _leaf(self, kind: int, value: Any, shape: Any) -> Any:
        """What moto's handler of a leaf of ``kind`` stores for ``value``."""
        if kind == _STRING:
            if type(value) is str:
                return value
            if isinstance(value, moto_serialize.Enum):
                value = value.value
            return str(value) if value not in [None, {}, []] else value
        if kind == _INTEGER:
            return int(value)
        if kind == _FLOAT:
            return float(value)
        if kind == _TIMESTAMP:
            serializer = self._timestamp_serializer
            if (
                type(value) is datetime
                and value.tzinfo is None
                and type(serializer) is moto_serialize.TimestampSerializer
                and shape.serialization.get("timestampFormat", serializer.default_format).lower()
                == serializer.TIMESTAMP_FORMAT_UNIX
            ):
                # What TimestampSerializer does with moto's naive UTC datetimes in JSON's
                # default format (botocore's parse_to_aware_datetime only adds tzinfo=UTC):
                # seconds, plus milliseconds when there are any.
                seconds = calendar.timegm(value.timetuple())
                micro = value.microsecond
                return seconds + (micro // 1000) / 1000.0 if micro else seconds
            wrapper: dict[str, Any] = {}
            self._timestamp_serializer.serialize(wrapper, value, shape, "timestamp")
            return wrapper["timestamp"]
        if kind == _BLOB:
            return self._base64(value)
        return value

    def _plan(self, shape: Any, value: Any, picker: Any, paths: tuple[str, ...] | None):
        """``shape``'s members for objects of ``value``'s class: (key, member shape, leaf kind
        or ``None``, serialized name, names to try (see :data:`_NAMES`), transformer candidates)."""
        plan = []
        for member_key, member_shape in shape.members.items():
            member_shape.parent = shape  # what moto sets before picking each member
            names = _names(picker, value, member_key, member_shape) if paths is not None else None
            plan.append(
                (
                    member_key,
                    member_shape,
                    _LEAVES.get(member_shape.type_name),
                    member_shape.serialization.get("name", member_key),
                    names,
                    _candidates(member_key, paths) if paths else (),
                )
            )
        return tuple(plan)

    def _serialize_type_structure(self, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if shape.is_document_type:
            serialized[key] = value
            return
        if value is None:
            return
        picker = self._value_picker
        transformers = None
        paths = None  # None: not moto's default picker, ask get_value for every member
        if _default_picker(picker):
            transformers = picker.response_transformers
            paths = tuple(transformers) if transformers else ()
        plan_key = (shape, type(value), paths)
        plan = _PLANS.get(plan_key)
        if plan is None:
            plan = _remember(_PLANS, plan_key, self._plan(shape, value, picker, paths))
        wrapper = {} if key else serialized
        subscriptable = hasattr(value, "__getitem__")
        for member_key, member_shape, leaf, name, names, candidates in plan:
            if names is None:
                member_shape.parent = shape
                member_value = self.get_value(value, member_key, member_shape)
            else:
                member_value = _pick(value, names, subscriptable)
                if candidates:
                    member_value = _transform(
                        member_value, transformers, candidates, self.path, member_key
                    )
            if member_value is None:
                continue
            if leaf is None:
                self._serialize(wrapper, member_value, member_shape, member_key)
            elif leaf == _STRING and type(member_value) is str:
                wrapper[name] = member_value
            else:
                wrapper[name] = self._leaf(leaf, member_value, member_shape)
        if key:
            serialized[shape.serialization.get("name", key)] = wrapper

    def _serialize_type_list(self, serialized: Any, value: Any, shape: Any, key: str) -> None:
        member = shape.member
        item_key = member.name
        leaf = _LEAVES.get(member.type_name)
        if leaf is not None:
            # moto stores each item under the member's serialized name, then lists what it finds
            # under ``item_key``: the converted item when the two names agree, else the item.
            if member.serialization.get("name", item_key) == item_key:
                items = [self._leaf(leaf, item, member) for item in value]
            else:
                items = list(value)
                for item in items:  # still converted (and failing) as moto converts them
                    self._leaf(leaf, item, member)
        else:
            items = []
            for item in value:
                wrapper: dict[str, Any] = {}
                self._serialize(wrapper, item, member, item_key)
                items.append(wrapper[item_key] if item_key in wrapper else item)
        serialized[shape.serialization.get("name", key)] = items


_ORIGINAL_ENRICH_RESPONSE = moto_responses.BaseResponse.__dict__["_enrich_response"]


def enrich_response(headers: dict[str, Any], body: Any) -> tuple[dict[str, Any], Any]:
    """``BaseResponse._enrich_response`` without its regular expression where it cannot match.

    moto stamps every answer's ``x-amzn-requestid``, then replaces whatever lies between
    ``<RequestId>`` and ``</RequestId>`` in the body with it: a scan of the whole body with a
    look-behind pattern, 0.2 ms for 10 described services, more than 1 ms once they have their
    100 events each. A text body without ``<RequestId>`` (every JSON answer) cannot match, so
    it is left as it is without the scan; anything else goes through moto's own method.
    """
    if not isinstance(body, str) or "<RequestId>" in body:
        return _ORIGINAL_ENRICH_RESPONSE.__func__(headers, body)
    if "status" in headers:
        headers["status"] = str(headers["status"])
    moto_responses.gen_amzn_requestid_long(headers)
    return headers, body


def method_names(clazz: Any) -> list[str]:
    """``method_names_from_class``, once per class (do not mutate the list)."""
    names = _METHOD_NAMES.get(clazz)
    if names is None:
        names = _METHOD_NAMES[clazz] = _ORIGINAL_METHOD_NAMES(clazz)
    return names


def install() -> None:
    moto_serialize.ResponseSerializer.get_value = fast_get_value  # type: ignore[method-assign]
    if moto_serialize.SERIALIZERS["json"] is moto_serialize.JSONSerializer:
        moto_serialize.SERIALIZERS["json"] = FastJSONSerializer
    moto_responses.method_names_from_class = method_names  # type: ignore[assignment]
    enrich = staticmethod(enrich_response)
    moto_responses.BaseResponse._enrich_response = enrich  # type: ignore[method-assign]

"""``/open/v1`` handlers: request JSON in, ``data`` out (or :class:`Refusal`).

Each handler runs under the cloud's lock. Limits follow geelark.md §4-§5: list pageSize 1-100
(40008), list/status ids <= 100, start/stop ids <= 200; start/stop/status report per-item
failures under envelope code 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from geelark.simulator.cloud import Cloud
from geelark.simulator.quota import Refusal
from geelark.simulator.taskapi import TASK_HANDLERS
from geelark.status import Code
from geelark.tasks import UPLOAD_FILE_TYPES

Handler = Callable[[Cloud, dict[str, Any], str], Any]


def _ids(body: dict[str, Any], limit: int, *, required: bool = True) -> list[str]:
    ids = body.get("ids")
    if ids is None and not required:
        return []
    if not isinstance(ids, list) or (required and not ids) or len(ids) > limit:
        raise Refusal(Code.INVALID_PARAMS, f"ids must be a list of 1..{limit} ids")
    return [str(i) for i in ids]


def _batch(cloud: Cloud, ids: list[str], act: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    ok, failed = [], []
    for phone_id in ids:
        try:
            ok.append(act(phone_id))
        except Refusal as refusal:
            failed.append({"code": refusal.code, "id": phone_id, "msg": refusal.msg})
    data = {
        "totalAmount": len(ids),
        "successAmount": len(ok),
        "failAmount": len(failed),
        "successDetails": ok,
        "failDetails": failed,
    }
    # Upstream behaviour when every id fails is unconfirmed (0 or 40009): configurable.
    if failed and not ok and cloud.config.all_failed_code:
        raise Refusal(cloud.config.all_failed_code, data=data)
    return data


def phone_list(cloud: Cloud, body: dict[str, Any], base_url: str) -> Any:
    page, size = body.get("page", 1), body.get("pageSize", 10)
    if not isinstance(page, int) or not isinstance(size, int) or page < 1 or not 1 <= size <= 100:
        raise Refusal(Code.BAD_PAGING)
    cloud.now()
    phones = list(cloud.phones.values())
    ids = _ids(body, 100, required=False)
    if ids:
        phones, page, size = [p for p in phones if p.id in ids], 1, max(len(ids), 1)
    if body.get("serialName"):
        phones = [p for p in phones if str(body["serialName"]) in p.serial_name]
    if body.get("serialNos"):
        phones = [p for p in phones if p.serial_no in body["serialNos"]]
    if body.get("openStatus") in (0, 1):
        phones = [p for p in phones if p.is_up == (body["openStatus"] == 1)]
    chunk = phones[(page - 1) * size : page * size]
    return {"total": len(phones), "page": page, "pageSize": size, "items": [p.to_list_item() for p in chunk]}


def phone_status(cloud: Cloud, body: dict[str, Any], base_url: str) -> Any:
    def one(phone_id: str) -> dict[str, Any]:
        phone = cloud.phone(phone_id)
        return {"id": phone.id, "serialName": phone.serial_name, "status": int(phone.status)}

    cloud.now()
    return _batch(cloud, _ids(body, 100), one)


def phone_start(cloud: Cloud, body: dict[str, Any], base_url: str) -> Any:
    saving = body.get("energySavingMode", 0)
    if saving not in (0, 1):
        raise Refusal(Code.INVALID_PARAMS, "energySavingMode must be 0 or 1")
    return _batch(cloud, _ids(body, 200), lambda phone_id: cloud.start(phone_id, energy_saving=saving == 1))


def phone_stop(cloud: Cloud, body: dict[str, Any], base_url: str) -> Any:
    return _batch(cloud, _ids(body, 200), cloud.stop)


def adb_set_status(cloud: Cloud, body: dict[str, Any], base_url: str) -> Any:
    if not isinstance(body.get("open"), bool):
        raise Refusal(Code.INVALID_PARAMS, "open must be a boolean")
    cloud.set_adb(_ids(body, 100), body["open"])
    return None


def adb_get_data(cloud: Cloud, body: dict[str, Any], base_url: str) -> Any:
    return {"items": [cloud.adb_item(i) for i in _ids(body, 100)]}


def upload_get_url(cloud: Cloud, body: dict[str, Any], base_url: str) -> Any:
    file_type = str(body.get("fileType", "")).lower()
    if file_type not in UPLOAD_FILE_TYPES:
        raise Refusal(Code.INVALID_PARAMS, "unsupported fileType")
    token = cloud.new_upload(file_type)
    return {"uploadUrl": f"{base_url}/_upload/{token}", "resourceUrl": f"{base_url}/_resource/{token}"}


def phone_upload_file(cloud: Cloud, body: dict[str, Any], base_url: str) -> Any:
    if not body.get("id") or not body.get("fileUrl"):
        raise Refusal(Code.INVALID_PARAMS, "id and fileUrl are required")
    token = str(body["fileUrl"]).rsplit("/", 1)[-1]
    return {"taskId": cloud.upload_to_phone(str(body["id"]), token)}


def phone_upload_result(cloud: Cloud, body: dict[str, Any], base_url: str) -> Any:
    if not body.get("taskId"):
        raise Refusal(Code.INVALID_PARAMS, "taskId is required")
    return {"status": int(cloud.upload_status(str(body["taskId"])))}


def pay_wallet(cloud: Cloud, body: dict[str, Any], base_url: str) -> Any:
    return {"balance": cloud.balance(cloud.now()), "giftMoney": 0.0, "availableTimeAddOn": 0}


def auth_status(cloud: Cloud, body: dict[str, Any], base_url: str) -> Any:
    return None


HANDLERS: dict[str, Handler] = {
    "/open/v1/phone/list": phone_list,
    "/open/v1/phone/status": phone_status,
    "/open/v1/phone/start": phone_start,
    "/open/v1/phone/stop": phone_stop,
    "/open/v1/adb/setStatus": adb_set_status,
    "/open/v1/adb/getData": adb_get_data,
    "/open/v1/upload/getUrl": upload_get_url,
    "/open/v1/phone/uploadFile": phone_upload_file,
    "/open/v1/phone/uploadFile/result": phone_upload_result,
    "/open/v1/pay/wallet": pay_wallet,
    "/open/v1/auth/status": auth_status,
    **TASK_HANDLERS,
}

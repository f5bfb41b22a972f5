"""Registration, login, current user and account updates."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from webapp.core import security
from webapp.core.models import User
from webapp.extensions import db

# The API's behaviour: every test that uses `client` runs against both apps.
pytestmark = pytest.mark.contract


def register(
    client: FlaskClient,
    username: str = "jake",
    email: str = "jake@jake.jake",
    password: str = "jakejake",
):
    return client.post(
        "/api/users", json={"user": {"username": username, "email": email, "password": password}}
    )


def login(client: FlaskClient, email: str, password: str):
    return client.post("/api/users/login", json={"user": {"email": email, "password": password}})


def test_register_returns_user_with_token(client):
    response = register(client)
    assert response.status_code == 201
    user = response.get_json()["user"]
    assert user == {
        "email": "jake@jake.jake",
        "username": "jake",
        "bio": "",
        "image": "",
        "token": user["token"],
    }
    assert user["token"].count(".") == 2


def test_register_stores_an_argon2id_hash_never_the_password(client, app):
    register(client, password="jakejake")
    with app.app_context():
        user = db.session.scalar(db.select(User))
        assert user.password_hash.startswith("$argon2id$")
        assert "jakejake" not in user.password_hash


def test_email_is_case_insensitive(client):
    assert (
        register(client, email="Jake@Example.COM").get_json()["user"]["email"] == "jake@example.com"
    )
    duplicate = register(client, username="other", email="JAKE@example.com")
    assert duplicate.status_code == 422
    assert duplicate.get_json()["errors"]["email"] == ["has already been taken"]
    assert login(client, "jAkE@EXAMPLE.com", "jakejake").status_code == 200


def test_duplicate_username_is_422_with_field(client):
    register(client)
    response = register(client, email="other@example.com")
    assert response.status_code == 422
    assert response.get_json() == {
        "errors": {
            "body": ["username has already been taken"],
            "username": ["has already been taken"],
        }
    }


@pytest.mark.parametrize(
    ("user", "field"),
    [
        ({"email": "a@b.co", "password": "password1"}, "username"),
        ({"username": "a", "password": "password1"}, "email"),
        ({"username": "a", "email": "a@b.co"}, "password"),
        ({"username": "a", "email": "not-an-email", "password": "password1"}, "email"),
        ({"username": "a b", "email": "a@b.co", "password": "password1"}, "username"),
        ({"username": "😀", "email": "a@b.co", "password": "password1"}, "username"),
        ({"username": "x" * 65, "email": "a@b.co", "password": "password1"}, "username"),
        ({"username": "a", "email": "a@b.co", "password": "short"}, "password"),
        ({"username": None, "email": "a@b.co", "password": "password1"}, "username"),
        ({"username": 5, "email": "a@b.co", "password": "password1"}, "username"),
    ],
)
def test_invalid_registration_is_422_and_creates_nothing(client, app, user, field):
    response = client.post("/api/users", json={"user": user})
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert field in errors
    assert errors["body"]
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 0


def test_login_returns_a_working_token(client):
    register(client)
    response = login(client, "jake@jake.jake", "jakejake")
    assert response.status_code == 200
    token = response.get_json()["user"]["token"]
    me = client.get("/api/user", headers={"Authorization": f"Token {token}"})
    assert me.status_code == 200
    assert me.get_json()["user"]["username"] == "jake"


def test_wrong_email_and_wrong_password_give_the_same_error(client):
    register(client)
    wrong_password = login(client, "jake@jake.jake", "wrong-password")
    wrong_email = login(client, "nobody@jake.jake", "jakejake")
    assert wrong_password.status_code == wrong_email.status_code == 401
    assert wrong_password.get_json() == wrong_email.get_json()
    assert wrong_email.get_json() == {"errors": {"body": ["email or password is invalid"]}}


def test_login_rehashes_when_cost_parameters_change(client, app, app_kind, monkeypatch):
    register(client)
    stronger = security.make_hasher(time_cost=2, memory_cost=16, parallelism=1)
    # Each app holds its hasher in its own place: the Flask app's extensions, the variant's module.
    if app_kind == "fastapi":
        monkeypatch.setattr("fastapi_variant.api.users.hasher", stronger)
    else:
        app.extensions["password_hasher"] = stronger
    assert login(client, "jake@jake.jake", "jakejake").status_code == 200
    with app.app_context():
        assert "t=2" in db.session.scalar(db.select(User.password_hash))
    assert login(client, "jake@jake.jake", "jakejake").status_code == 200


def test_registration_ignores_read_only_and_unknown_fields(client, app):
    user = {"username": "a", "email": "a@b.co", "password": "password1"}
    echoed = {"admin": True, "token": "forged", "bio": 5, "id": 9, "password_hash": "x"}
    response = client.post("/api/users", json={"user": {**user, **echoed}})
    assert response.status_code == 201
    created = response.get_json()["user"]
    assert created["token"] != "forged"
    assert created["bio"] == ""
    with app.app_context():
        stored = db.session.scalar(db.select(User))
        assert stored.id != 9
        assert stored.password_hash.startswith("$argon2id$")
    assert login(client, "a@b.co", "password1").status_code == 200


def test_current_user_requires_a_token(client):
    response = client.get("/api/user")
    assert response.status_code == 401
    assert response.get_json()["errors"]["body"]


def test_update_user_partially(client, make_user):
    jake = make_user("jake")
    response = client.put(
        "/api/user",
        json={"user": {"bio": "I work at statefarm", "image": "https://example.com/a.png"}},
        headers=jake["headers"],
    )
    assert response.status_code == 200
    user = response.get_json()["user"]
    assert user["bio"] == "I work at statefarm"
    assert user["image"] == "https://example.com/a.png"
    assert user["username"] == "jake"
    assert user["email"] == "jake@example.com"


def test_update_null_bio_and_image_clear_them(client, make_user):
    jake = make_user("jake")
    client.put(
        "/api/user",
        json={"user": {"bio": "x", "image": "https://e.x/a.png"}},
        headers=jake["headers"],
    )
    response = client.put(
        "/api/user", json={"user": {"bio": None, "image": None}}, headers=jake["headers"]
    )
    assert response.get_json()["user"]["bio"] == ""
    assert response.get_json()["user"]["image"] == ""


def test_token_stays_valid_after_username_and_email_change(client, make_user):
    jake = make_user("jake")
    response = client.put(
        "/api/user",
        json={"user": {"username": "jacob", "email": "Jacob@Example.com"}},
        headers=jake["headers"],
    )
    assert response.status_code == 200
    assert response.get_json()["user"]["email"] == "jacob@example.com"
    me = client.get("/api/user", headers=jake["headers"])
    assert me.get_json()["user"]["username"] == "jacob"


def test_changed_password_logs_in_and_the_old_one_does_not(client, make_user):
    jake = make_user("jake", password="old-password")
    client.put("/api/user", json={"user": {"password": "new-password"}}, headers=jake["headers"])
    assert login(client, "jake@example.com", "old-password").status_code == 401
    assert login(client, "jake@example.com", "new-password").status_code == 200


def test_update_keeps_uniqueness(client, make_user):
    make_user("alice")
    bob = make_user("bob")
    taken = client.put("/api/user", json={"user": {"username": "alice"}}, headers=bob["headers"])
    assert taken.status_code == 422
    assert taken.get_json()["errors"]["username"] == ["has already been taken"]
    taken = client.put(
        "/api/user", json={"user": {"email": "ALICE@example.com"}}, headers=bob["headers"]
    )
    assert taken.get_json()["errors"]["email"] == ["has already been taken"]
    # Re-sending one's own values is not a conflict.
    same = client.put(
        "/api/user",
        json={"user": {"username": "bob", "email": "bob@example.com"}},
        headers=bob["headers"],
    )
    assert same.status_code == 200


def test_update_rejects_invalid_image(client, make_user):
    jake = make_user("jake")
    response = client.put(
        "/api/user", json={"user": {"image": "javascript:alert(1)"}}, headers=jake["headers"]
    )
    assert response.status_code == 422
    assert "image" in response.get_json()["errors"]


def test_no_response_carries_a_password_or_hash(client, make_user):
    jake = make_user("jake", password="super-secret-pw")
    bodies = [
        client.get("/api/user", headers=jake["headers"]).get_data(as_text=True),
        login(client, "jake@example.com", "super-secret-pw").get_data(as_text=True),
        client.put("/api/user", json={"user": {"bio": "b"}}, headers=jake["headers"]).get_data(
            as_text=True
        ),
    ]
    for body in bodies:
        assert "super-secret-pw" not in body
        assert "argon2" not in body
        assert "password" not in body


# --- usernames and emails that could impersonate -------------------------------------------------


@pytest.mark.parametrize(
    "username",
    [
        "alice\n",  # "$" would have let the trailing newline through
        "alice\n\n",
        "alice\t",
        ".",
        "..",
        "\u0430lice",  # Cyrillic a
        "\uff41\uff4c\uff49\uff43\uff45",  # fullwidth "alice"
        "Jos\u00e9",  # non-ASCII letters are not allowed at all
        "al\u200bice",  # zero-width space
    ],
)
def test_username_must_match_the_rules_in_full(client, app, username):
    response = register(client, username=username, email="new@example.com")
    assert response.status_code == 422, response.get_json()
    assert "username" in response.get_json()["errors"]
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 0


@pytest.mark.parametrize("username", ["a", "j.doe", "...", "-_-", "A" * 64, "Jake_2"])
def test_ascii_letters_digits_dots_dashes_and_underscores_are_fine(client, username):
    assert register(client, username=username).status_code == 201


@pytest.mark.parametrize(("taken", "attempt"), [("bob", "Bob"), ("bob", "BOB"), ("Bob", "bOb")])
def test_usernames_are_unique_whatever_their_case(client, taken, attempt):
    assert register(client, username=taken, email="first@example.com").status_code == 201
    response = register(client, username=attempt, email="second@example.com")
    assert response.status_code == 422
    assert response.get_json()["errors"]["username"] == ["has already been taken"]


def test_renaming_to_another_case_of_a_taken_name_is_422_but_ones_own_is_fine(client, make_user):
    make_user("alice")
    bob = make_user("bob")
    taken = client.put("/api/user", json={"user": {"username": "ALICE"}}, headers=bob["headers"])
    assert taken.status_code == 422
    assert taken.get_json()["errors"]["username"] == ["has already been taken"]
    own = client.put("/api/user", json={"user": {"username": "Bob"}}, headers=bob["headers"])
    assert own.status_code == 200
    assert own.get_json()["user"]["username"] == "Bob"


def test_profile_and_filters_find_the_name_as_registered_and_only_that(
    client, make_user, make_article
):
    alice = make_user("Alice")
    slug = make_article(alice)["slug"]
    client.post(f"/api/articles/{slug}/favorite", headers=alice["headers"])
    profile = client.get("/api/profiles/Alice")
    assert profile.status_code == 200
    assert profile.get_json()["profile"]["username"] == "Alice"
    assert client.get("/api/articles?author=Alice").get_json()["articlesCount"] == 1
    assert client.get("/api/articles?favorited=Alice").get_json()["articlesCount"] == 1
    # Lookups are exact: no other spelling names an account, so they find nothing.
    assert client.get("/api/profiles/alice").status_code == 404
    assert client.get("/api/profiles/Alice%0A").status_code == 404
    assert client.get("/api/articles?author=alice").get_json()["articlesCount"] == 0


def test_email_is_nfkc_normalised_before_lower_casing(client):
    assert register(client, email="jake@example.com").status_code == 201
    fullwidth = "\uff2a\uff21\uff2b\uff25@example.com"  # fullwidth "JAKE"
    duplicate = register(client, username="other", email=fullwidth)
    assert duplicate.status_code == 422
    assert duplicate.get_json()["errors"]["email"] == ["has already been taken"]
    assert login(client, fullwidth, "jakejake").status_code == 200


@pytest.mark.parametrize("blank", ["", None])
def test_blank_password_leaves_it_unchanged(client, make_user, blank):
    jake = make_user("jake", password="old-password")
    # What settings forms send: the whole form, the password field left empty.
    form = {"image": "", "username": "jacob", "bio": "hi", "email": "jake@example.com"}
    response = client.put(
        "/api/user", json={"user": {**form, "password": blank}}, headers=jake["headers"]
    )
    assert response.status_code == 200
    assert response.get_json()["user"]["username"] == "jacob"
    assert login(client, "jake@example.com", "old-password").status_code == 200


def test_short_password_is_still_422(client, make_user):
    jake = make_user("jake", password="old-password")
    response = client.put(
        "/api/user", json={"user": {"password": "short"}}, headers=jake["headers"]
    )
    assert response.status_code == 422
    assert "password" in response.get_json()["errors"]
    assert login(client, "jake@example.com", "old-password").status_code == 200


@pytest.mark.parametrize(
    "user", [{}, {"password": ""}, {"token": "x", "createdAt": "2000-01-01"}, {"following": True}]
)
def test_update_without_a_known_field_is_422(client, make_user, user):
    jake = make_user("jake")
    response = client.put("/api/user", json={"user": user}, headers=jake["headers"])
    assert response.status_code == 422
    assert response.get_json()["errors"]["body"] == ["at least one known field is required."]


def test_update_ignores_read_only_fields(client, make_user):
    jake = make_user("jake")
    echoed = {"token": "forged", "following": True, "id": 1, "bio": "new"}
    response = client.put("/api/user", json={"user": echoed}, headers=jake["headers"])
    assert response.status_code == 200
    user = response.get_json()["user"]
    assert user["token"] != "forged"
    assert user["bio"] == "new"
    assert "following" not in user

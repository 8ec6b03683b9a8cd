// The mongo-setup job of docker-compose.yml (mongosh, as the root user): make the one-member replica set once,
// wait for it to elect itself, then create or update the services' user `township` with readWrite on each
// service's database (<MONGODB_DB_PREFIX>_<service>, the services of TOWNSHIP_SERVICES). Idempotent.
const host = "mongo:27017";
try {
  rs.status();
} catch (e) {
  if (e.codeName !== "NotYetInitialized") throw e;
  rs.initiate({ _id: "rs0", members: [{ _id: 0, host: host }] });
  print(`mongo-setup: replica set rs0 initiated on ${host}`);
}
for (let i = 0; i < 60 && !db.hello().isWritablePrimary; i++) sleep(1000);
if (!db.hello().isWritablePrimary) throw new Error("mongo-setup: no primary after 60 s");

const prefix = process.env.MONGODB_DB_PREFIX || "township";
const services = (process.env.TOWNSHIP_SERVICES || "").split(/\s+/).filter(Boolean);
if (services.length === 0) throw new Error("mongo-setup: TOWNSHIP_SERVICES is empty");
const roles = services.map((s) => ({ role: "readWrite", db: `${prefix}_${s}` }));
const admin = db.getSiblingDB("admin");
const password = process.env.MONGO_APP_PASSWORD;
if (!password) throw new Error("mongo-setup: MONGO_APP_PASSWORD is empty");
if (admin.getUser("township")) {
  admin.updateUser("township", { pwd: password, roles: roles });
} else {
  admin.createUser({ user: "township", pwd: password, roles: roles });
}
print(`mongo-setup: user township may read and write ${roles.map((r) => r.db).join(", ")}`);

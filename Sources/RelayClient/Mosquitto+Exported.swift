// The wrapper over libmosquitto is its own target (Mosquitto), shared with the
// relay; the SDK's users keep reaching MosquittoClient through RelayClient.
@_exported import Mosquitto

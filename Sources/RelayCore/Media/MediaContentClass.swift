/// The coarse kind of a blob a device declares in `q/media.upload`. The
/// exact MIME type travels end-to-end encrypted in the pointer; the relay
/// knows only this much (docs/media.md).
public enum MediaContentClass: String, CaseIterable, Hashable, Sendable {
    case image, video, audio, file
}

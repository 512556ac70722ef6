"""Video: a video file or numbered-frame folder in, its cartoon out (a video file with the input's sound, or a frame
folder). The only package that imports PyAV (`av`).

Modules: `options` (what a job is asked and reports, the video suffixes and codecs), `frames` (the frame and stream
description that pass from reader to writer), `reader` (decoding, including the public frame iterator
`VideoFileReader.decoded_frames`), `writer` (encoding and remuxing), `pipeline` (the threaded decode → infer →
encode loop, shared with animated pictures) and `job` (`cartoonize_video`, and where its output goes).
"""
from __future__ import annotations

from core.video.frames import Frame, FrameSink, FrameSource, StreamDescription
from core.video.job import cartoonize_video, output_is_frame_folder, video_destination
from core.video.options import (
    DEFAULT_FRAME_FOLDER_FPS, VIDEO_CODECS, VIDEO_SUFFIXES, EncoderUnavailable, FrameCount, VideoError, VideoOptions,
    VideoOutcome, VideoReadError, VideoWriteError, is_video_path,
)
from core.video.pipeline import run_frame_pipeline
from core.video.reader import DecodedFrame, FrameFolderReader, VideoFileReader, video_is_ours
from core.video.writer import FrameFolderWriter, VideoFileWriter, check_video_encoder

__all__ = [
    "DEFAULT_FRAME_FOLDER_FPS", "VIDEO_CODECS", "VIDEO_SUFFIXES", "DecodedFrame", "EncoderUnavailable", "Frame",
    "FrameCount", "FrameFolderReader", "FrameFolderWriter", "FrameSink", "FrameSource", "StreamDescription",
    "VideoError", "VideoFileReader", "VideoFileWriter", "VideoOptions", "VideoOutcome", "VideoReadError", "VideoWriteError",
    "cartoonize_video", "check_video_encoder", "is_video_path", "output_is_frame_folder", "run_frame_pipeline",
    "video_destination", "video_is_ours",
]
